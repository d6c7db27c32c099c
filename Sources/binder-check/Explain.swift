import ArgumentParser
import BinderHarness

/// `binder-check explain`: a scenario in text form with the model's outcome of every step.
struct Explain: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a scenario as text, each step followed by its outcome on the model, and the divergence if any.")

    @Argument(help: "A scenario file.")
    var file: String

    @Option(help: "Which backend's outcomes to show under each step (model or driver).")
    var backend: String = "model"

    func run() throws {
        guard let bytes = CorpusFiles.read(file) else { throw ValidationError("cannot read \(file)") }
        guard let kind = BackendKind(rawValue: backend) else { throw ValidationError("unknown backend \(backend)") }
        let scenario = WireFormat.decode(bytes)
        let trace = ScenarioRunner.trace(scenario, on: kind.make(processCount: scenario.processCount))
        print("# \(file) (\(bytes.count) bytes)" + (bytes.starts(with: WireFormat.magic) ? "" : ", header-less (decoded as v\(WireFormat.currentVersion))"))
        print("# outcomes on the \(kind.rawValue)")
        print(ScenarioText.render(scenario, outcomes: trace.outcomes))
        print("")
        let run = DifferentialRun(modelVersusDriver: scenario)
        if let d = run.divergence {
            print(d.report(scenario))
            print("signature: \(d.signature)")
            throw ExitCode(1)
        }
        print("model and driver agree on all \(scenario.steps.count) steps")
    }
}
