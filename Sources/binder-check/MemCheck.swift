import ArgumentParser
import BinderHarness
#if canImport(Glibc)
import Glibc
#endif

/// `binder-check memcheck` (hidden): runs a scenario many times per backend and reports the
/// resident-set growth, to find per-run leaks (which make long fuzz runs hit libFuzzer's RSS limit).
struct MemCheck: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "memcheck",
        abstract: "Run a scenario N times per backend and report RSS growth (leak hunting).",
        shouldDisplay: false)

    @Argument(help: "A scenario file.")
    var file: String

    @Option(help: "Runs per backend.")
    var runs: Int = 2000

    static func residentKB() -> Int {
        guard let bytes = CorpusFiles.read("/proc/self/statm") else { return 0 }
        let fields = String(decoding: bytes, as: UTF8.self).split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE))) / 1024
    }

    func run() throws {
        guard let bytes = CorpusFiles.read(file) else { throw ValidationError("cannot read \(file)") }
        let scenario = WireFormat.decode(bytes)
        func measure(_ name: String, _ body: () -> Void) {
            let before = MemCheck.residentKB()
            let start = monotonicSeconds()
            for _ in 0..<runs { body() }
            let after = MemCheck.residentKB()
            let perRun = Double(after - before) * 1024 / Double(runs)
            print("\(name.padded(14)) RSS \(grouped(before)) -> \(grouped(after)) KB: \(fixedPoint(perRun, digits: 0)) bytes/run, "
                + "\(fixedPoint(Double(runs) / (monotonicSeconds() - start), digits: 0)) runs/s")
        }
        print("\(file): \(scenario.steps.count) steps, \(runs) runs each")
        measure("model") { _ = ScenarioRunner.trace(scenario, on: BackendKind.model.make(processCount: scenario.processCount)) }
        measure("driver") { _ = ScenarioRunner.trace(scenario, on: BackendKind.driver.make(processCount: scenario.processCount)) }
        measure("differential") { _ = DifferentialRun(modelVersusDriver: scenario) }
    }
}
