import BinderUAPI

/// A generated scenario on which the model and the driver disagree.
public struct GeneratedFailure {
    public var seed: UInt64
    public var profile: GeneratorProfile = .standard
    public var original: Scenario
    public var shrunk: Scenario
    /// The divergence of the shrunk scenario.
    public var divergence: Divergence
    /// Seed, the shrunk scenario in ScenarioText form (with the model's outcomes), and the divergence report.
    public var report: String
}

public enum GeneratedCheck {
    /// Generates a scenario per seed (the k-th seed with `profiles[k % profiles.count]`), runs
    /// `DifferentialRun(modelVersusDriver:)`, and returns the first failure, shrunk with `Shrinker`.
    public static func firstFailure<S: Sequence>(seeds: S, profiles: [GeneratorProfile] = [.standard],
                                                 shrink: Bool = true) -> GeneratedFailure? where S.Element == UInt64 {
        for (k, seed) in seeds.enumerated() {
            if let f = check(seed: seed, profile: profiles[k % profiles.count], shrink: shrink) { return f }
        }
        return nil
    }

    /// Checks one seed; nil when model and driver agree.
    public static func check(seed: UInt64, profile: GeneratorProfile = .standard, shrink: Bool = true) -> GeneratedFailure? {
        let scenario = profile.scenario(seed: seed)
        guard let first = DifferentialRun(modelVersusDriver: scenario).divergence else { return nil }
        var f = failure(seed: seed, original: scenario, divergence: first, shrink: shrink)
        f.profile = profile
        return f
    }

    /// Shrinks a failing scenario and builds its report.
    public static func failure(seed: UInt64, original: Scenario, divergence first: Divergence, shrink: Bool = true) -> GeneratedFailure {
        var shrunk = original
        var divergence = first
        if shrink {
            var shrinker = Shrinker(budget: 3000) { DifferentialRun(modelVersusDriver: $0).divergence }
            shrunk = shrinker.shrink(original, signature: first.signature)
            let rerun = DifferentialRun(modelVersusDriver: shrunk)
            if let d = rerun.divergence { divergence = d } else { shrunk = original }
        }
        let run = DifferentialRun(modelVersusDriver: shrunk)
        var lines: [String] = []
        lines.append("seed: \(seed) (0x\(String(seed, radix: 16)))")
        lines.append("original: \(original.steps.count) steps, shrunk: \(shrunk.steps.count) steps, signature: \(divergence.signature)")
        lines.append(ScenarioText.render(shrunk, outcomes: run.leftOutcomes))
        lines.append(divergence.report(shrunk))
        return GeneratedFailure(seed: seed, original: original, shrunk: shrunk, divergence: divergence,
                                report: lines.joined(separator: "\n"))
    }
}
