import BinderHarness
import BinderUAPI
import Testing

/// Paths and helpers shared by the harness tests.
enum TestSupport {
    /// The package root, found from this file's path (Tests/BinderHarnessTests/TestSupport.swift).
    static func packageRoot(_ file: String = #filePath) -> String {
        var parts = file.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        parts.removeLast(3)
        return parts.joined(separator: "/")
    }

    static var regressionsDirectory: String { packageRoot() + "/Corpus/regressions" }
    static var differentialDirectory: String { packageRoot() + "/Corpus/differential" }

    /// Writes a shrunk failing scenario into Corpus/regressions; returns the path.
    @discardableResult
    static func saveRegression(_ scenario: Scenario) -> String {
        let dir = regressionsDirectory
        CorpusFiles.makeDirectory(dir)
        let path = dir + "/" + CorpusFiles.fileName(for: scenario)
        CorpusFiles.write(path, WireFormat.bytes(of: scenario))
        return path
    }

    static func nowSeconds() -> Double {
        let d = ContinuousClock.now - referenceInstant
        return Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
    }
    static let referenceInstant = ContinuousClock.now
}
