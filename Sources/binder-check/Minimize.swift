import ArgumentParser
import BinderHarness

/// `binder-check minimize`: step-level shrinking of a divergent scenario.
struct Minimize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Shrink a divergent scenario to a minimal one with the same divergence signature.")

    @Argument(help: "A scenario file that diverges.")
    var file: String

    @Option(name: .shortAndLong, help: "Where to write the minimized scenario (binary, with the BSCN header).")
    var output: String

    @Option(help: "At most this many candidate runs.")
    var budget: Int = 20000

    func run() throws {
        guard let bytes = CorpusFiles.read(file) else { throw ValidationError("cannot read \(file)") }
        let scenario = WireFormat.decode(bytes)
        guard let d = DifferentialRun(modelVersusDriver: scenario).divergence else {
            print("\(file): model and driver agree on all \(scenario.steps.count) steps; nothing to minimize")
            throw ExitCode(1)
        }
        let start = monotonicSeconds()
        var shrinker = Shrinker(budget: budget) { DifferentialRun(modelVersusDriver: $0).divergence }
        let shrunk = shrinker.shrink(scenario, signature: d.signature)
        let seconds = monotonicSeconds() - start
        guard let after = DifferentialRun(modelVersusDriver: shrunk).divergence, after.signature == d.signature else {
            printError("binder-check: internal error: the shrunk scenario no longer fails the same way")
            throw ExitCode(2)
        }
        let encoded = try WireFormat.encode(shrunk)
        guard CorpusFiles.write(output, encoded) else { throw ValidationError("cannot write \(output)") }
        print(ScenarioText.render(shrunk))
        print("")
        print(after.report(shrunk))
        print("")
        print("minimized \(scenario.steps.count) -> \(shrunk.steps.count) steps, \(bytes.count) -> \(encoded.count) bytes "
            + "in \(formatSeconds(seconds)) (\(budget - shrinker.budget) candidates); signature \(d.signature)")
        print("wrote \(output)")
    }
}
