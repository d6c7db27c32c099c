import ArgumentParser
import BinderHarness

/// `binder-check merge`: corpus minimization through libFuzzer's -merge=1.
struct Merge: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Merge corpus directories into one, keeping only inputs that add coverage (libFuzzer -merge=1).",
        discussion: "Example: binder-check merge --into Corpus/differential --from .fuzz-corpus")

    @OptionGroup var package: PackageOptions

    @Option(help: "The corpus to merge into (its inputs are kept; new ones are added).")
    var into: String = FuzzTarget.seedCorpus

    @Option(help: "Corpus directories to take new inputs from.")
    var from: [String] = [".fuzz-corpus"]

    @Flag(help: "Do not (re)build the fuzz target.")
    var noBuild = false

    @Argument(parsing: .postTerminator, help: "libFuzzer flags, after `--`.")
    var libFuzzerFlags: [String] = []

    func run() throws {
        _ = try package.enterPackageRoot()
        let binary = noBuild ? FuzzTarget.binary(mutants: false) : try FuzzTarget.build(mutants: false)
        let sources = from.filter { CorpusFiles.isDirectory($0) }
        guard !sources.isEmpty else { throw ValidationError("none of \(from) is a directory") }
        CorpusFiles.makeDirectory(into)
        let before = Files.list(into).count
        let bytesBefore = Files.list(into).reduce(0) { $0 + Files.size(Files.join(into, $1)) }
        CorpusFiles.makeDirectory("fuzz-artifacts")
        let control = "fuzz-artifacts/merge-control.txt"
        let args = [binary, "-merge=1", "-merge_control_file=" + control] + libFuzzerFlags + [into] + sources
        print("==> " + args.joined(separator: " "))
        var stats = FuzzStats()
        let result = Subprocess.run(args, environment: FuzzTarget.environment) { line in
            stats.read(line)
            if line.hasPrefix("MERGE-OUTER") || line.hasPrefix("INFO:") && line.contains("merge") { print(line) }
        }
        Files.removeTree(control)
        guard result.status == 0 else {
            printError("binder-check: merge failed (exit \(result.status)); a crashing input in the sources? replay them")
            throw ExitCode(1)
        }
        let after = Files.list(into).count
        let bytesAfter = Files.list(into).reduce(0) { $0 + Files.size(Files.join(into, $1)) }
        print("==> \(into): \(before) -> \(after) files (\(grouped(bytesBefore)) -> \(grouped(bytesAfter)) bytes) in \(formatSeconds(result.seconds))")
    }
}
