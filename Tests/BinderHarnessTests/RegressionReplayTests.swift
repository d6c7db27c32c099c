import BinderHarness
import BinderUAPI
import Testing

/// Every saved scenario (regressions, differential corpus, the kernel-verified corpus, the
/// Rust-vs-C reproducers) replays with model and driver in agreement.
@Suite struct RegressionReplayTests {
    static func files(_ dir: String) -> [String] {
        CorpusFiles.isDirectory(dir) ? CorpusFiles.scenarioFiles(dir) : []
    }

    @Test("Corpus/regressions, Corpus/differential, Corpus/kernel and Corpus/rust-vs-c replay without divergence",
          arguments: ["regressions", "differential", "kernel", "rust-vs-c"])
    func replay(directory: String) {
        let dir = TestSupport.packageRoot() + "/Corpus/" + directory
        for path in Self.files(dir) {
            guard let bytes = CorpusFiles.read(path) else {
                Issue.record("cannot read \(path)")
                continue
            }
            let scenario = WireFormat.decode(bytes)
            if let d = DifferentialRun(modelVersusDriver: scenario).divergence {
                Issue.record("\(path) diverges:\n\(ScenarioText.render(scenario))\n\(d.report(scenario))")
            }
        }
    }
}
