import ArgumentParser
import BinderHarness

/// `binder-check replay`: runs scenario files on the model and the driver.
struct Replay: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Replay scenario files (or directories of them) model-vs-driver; exit 1 on any divergence.")

    @Argument(help: "Scenario files or directories (searched recursively; .txt/.md/.trace and hidden files skipped).")
    var paths: [String]

    @Option(help: "Replay each file N times and check that the outcome (divergence signature) is the same every time.")
    var `repeat`: Int = 1

    @Flag(help: "Print one line per file, also for files that pass.")
    var verbose = false

    func validate() throws {
        guard `repeat` >= 1 else { throw ValidationError("--repeat must be at least 1") }
    }

    func run() throws {
        var files: [String] = []
        for path in paths {
            guard Files.exists(path) else { throw ValidationError("no such file or directory: \(path)") }
            files += CorpusFiles.scenarioFiles(path)
        }
        let start = monotonicSeconds()
        var divergent = 0, unstable = 0, steps = 0
        for file in files {
            guard let bytes = CorpusFiles.read(file) else {
                printError("binder-check: cannot read \(file)")
                throw ExitCode(2)
            }
            let scenario = WireFormat.decode(bytes)
            var signatures: [String] = []
            var first: Divergence?
            for _ in 0..<`repeat` {
                let run = DifferentialRun(modelVersusDriver: scenario)
                signatures.append(run.divergence?.signature ?? "none")
                if first == nil { first = run.divergence }
                steps += scenario.steps.count
            }
            let stable = Set(signatures).count == 1
            if !stable { unstable += 1 }
            if let d = first {
                divergent += 1
                print("== \(file): \(scenario.steps.count) steps, divergence \(d.signature)")
                print(d.report(scenario))
                if `repeat` > 1 {
                    let same = signatures.filter { $0 == d.signature }.count
                    print("reproduced \(same)/\(`repeat`) with the same signature" + (stable ? "" : " (UNSTABLE: \(signatures))"))
                }
                print("")
            } else if verbose || !stable {
                print("== \(file): \(scenario.steps.count) steps, ok" + (stable ? "" : " (UNSTABLE: \(signatures))"))
            }
        }
        let seconds = monotonicSeconds() - start
        print("replayed \(files.count) file(s) x\(`repeat`), \(grouped(steps)) steps in \(formatSeconds(seconds)): "
            + "\(divergent) divergent, \(files.count - divergent) agree" + (unstable > 0 ? ", \(unstable) UNSTABLE" : ""))
        if divergent > 0 || unstable > 0 { throw ExitCode(1) }
    }
}
