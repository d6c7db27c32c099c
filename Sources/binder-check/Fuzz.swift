import ArgumentParser
import BinderHarness
#if canImport(Glibc)
import Glibc
#endif

/// `binder-check fuzz`: the main job, a coverage-guided differential fuzzing campaign.
struct Fuzz: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a libFuzzer campaign: every input runs on the model and the driver; a divergence is a crash.",
        discussion: """
        Builds the DifferentialFuzzer target with `--sanitize=fuzzer` into .build-fuzz (or \
        .build-fuzz-mutants with --mutants), then fuzzes with the working corpus (default .fuzz-corpus/, \
        new inputs are written there) plus the seed corpus Corpus/differential. Crash files go to \
        fuzz-artifacts/. Flags after `--` go to libFuzzer unchanged, e.g. `binder-check fuzz -- -max_len=2048`.
        Exits 1 when a divergence was found.
        """)

    @OptionGroup var package: PackageOptions

    @Option(help: "Seconds to fuzz (libFuzzer -max_total_time).")
    var time: Int = 600

    @Option(help: "Parallel fuzzing processes; more than 1 uses libFuzzer's -fork mode.")
    var jobs: Int = 1

    @Option(help: "The working corpus directory (written to).")
    var corpus: String = ".fuzz-corpus"

    @Option(help: "Extra read-only seed corpus directories.")
    var seeds: [String] = [FuzzTarget.seedCorpus]

    @Option(help: "Where libFuzzer writes crash files.")
    var artifacts: String = "fuzz-artifacts"

    @Flag(help: "Fuzz the driver built with its deliberate bugs (-DBINDER_MUTANTS); select one with BINDER_MUTANT=<name>.")
    var mutants = false

    @Flag(help: "Use libFuzzer's -fork mode even with one job (each job is a child process; out-of-memory jobs are retried).")
    var fork = false

    @Flag(help: "Do not (re)build the fuzz target.")
    var noBuild = false

    @Flag(help: "Echo every libFuzzer line (NEW/REDUCE included).")
    var verbose = false

    @Argument(parsing: .postTerminator, help: "libFuzzer flags, after `--`.")
    var libFuzzerFlags: [String] = []

    func validate() throws {
        guard time > 0 else { throw ValidationError("--time must be positive") }
        guard jobs >= 1 else { throw ValidationError("--jobs must be at least 1") }
    }

    func run() throws {
        _ = try package.enterPackageRoot()
        let binary = noBuild ? FuzzTarget.binary(mutants: mutants) : try FuzzTarget.build(mutants: mutants)
        guard Files.isExecutable(binary) else {
            printError("binder-check: \(binary) does not exist; run without --no-build")
            throw ExitCode(2)
        }
        let seedDirectories = seeds.filter { CorpusFiles.isDirectory($0) }
        var fuzz = FuzzRun(binary: binary, corpusDirectories: [corpus] + seedDirectories,
                           artifactDirectory: artifacts, seconds: time, jobs: jobs, fork: fork, extraFlags: libFuzzerFlags)
        let verbose = self.verbose
        fuzz.echo = { line in
            if verbose { return true }
            if line.hasPrefix("stat::") { return false }
            if line.hasPrefix("#"), line.contains("NEW") || line.contains("REDUCE") { return false }
            return true
        }
        let mutantName = getenv("BINDER_MUTANT").map { String(cString: $0) }
        let mutant = mutants ? mutantName.map { "BINDER_MUTANT=" + $0 } ?? "BINDER_MUTANT unset: no mutant active" : nil
        print("==> fuzzing for \(time) s with \(jobs) job(s): corpus \(corpus)/, seeds \(seedDirectories.joined(separator: " ")), artifacts \(artifacts)/"
            + (mutant.map { " [\($0)]" } ?? ""))
        print("    " + fuzz.arguments.joined(separator: " "))
        let (stats, result, crashes) = fuzz.run()
        print("")
        print("==> \(stats.summary(seconds: result.seconds))")
        if let last = stats.lastStatus { print("    last status: \(last.trimmingSpaces)") }
        let found = crashes.isEmpty ? stats.crashPath.map { [$0] } ?? [] : crashes
        if !found.isEmpty || result.status != 0 {
            if found.isEmpty {
                printError("binder-check: the fuzzer exited with status \(result.status) and wrote no crash file")
                throw ExitCode(result.status == 0 ? 1 : result.status)
            }
            let names = found.map { String($0.split(separator: "/").last ?? "") }
            if names.contains(where: { $0.hasPrefix("crash-") }) {
                print("==> DIVERGENCE FOUND (libFuzzer exit \(result.status)):")
            } else if names.contains(where: { $0.hasPrefix("oom-") }) {
                print("==> OUT OF MEMORY (libFuzzer exit \(result.status)): an input used more than the RSS limit, "
                    + "or memory leaks across runs (`binder-check memcheck FILE` measures growth per run):")
            } else {
                print("==> FUZZER STOPPED (libFuzzer exit \(result.status)): timeout or leak:")
            }
            let prefix = mutants
                ? "BINDER_MUTANT=\(mutantName ?? "<name>") swift run -c release --scratch-path .build-mutants -Xswiftc -DBINDER_MUTANTS binder-check"
                : "swift run -c release binder-check"
            for path in found {
                print("    crash file: \(path)")
                print("    replay:     \(prefix) replay \(path)")
                print("    explain:    \(prefix) explain \(path)")
                print("    minimize:   \(prefix) minimize \(path) -o minimized.bscn")
            }
            throw ExitCode(1)
        }
        print("==> no divergence found")
    }
}
