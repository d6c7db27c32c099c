/// Named generator settings, so that comparisons can cover different kinds of scenarios.
public enum GeneratorProfile: String, CaseIterable, Sendable {
    /// The property tests' settings: 3–5 processes, 30–50 body steps, 10% error paths.
    case standard
    /// Mostly malformed input: 40% error paths.
    case errors
    /// Longer runs with fewer processes: 60–90 body steps, 2–3 processes, oneway spam
    /// detection in 60% of them.
    case deep
    /// Short scenarios: 10–20 body steps, 2–3 processes, 2 threads.
    case short
    /// Freezing: the freeze move 15 times as likely (freeze/unfreeze, frozen info, freeze
    /// notifications and their clear/done), 3–4 processes, 40–60 body steps.
    case freeze
    /// Binder as Android runs it (`ScenarioGenerator.libbinder`): blocking loopers, polling
    /// main threads, servicemanager, calls that block for their reply, deaths and exits, 1%
    /// error paths, 3–5 processes, 40–70 body steps.
    case android

    public func generator(seed: UInt64) -> ScenarioGenerator {
        var g = ScenarioGenerator(seed: seed)
        switch self {
        case .standard: break
        case .errors: g.invalidPercent = 40
        case .deep: g.bodySteps = 60...90; g.processes = 2...3; g.spamDetectionPercent = 60
        case .short: g.bodySteps = 10...20; g.processes = 2...3; g.threads = 2...2
        case .freeze: g.freezeWeight = 15; g.bodySteps = 40...60; g.processes = 3...4
        case .android:
            g.libbinder = true; g.invalidPercent = 1; g.bodySteps = 40...70; g.threads = 3...5
            g.blockingWeight = 6; g.spamDetectionPercent = 0
        }
        return g
    }

    /// The first scenario of `seed` under this profile.
    public func scenario(seed: UInt64) -> Scenario {
        var g = generator(seed: seed)
        return g.generate()
    }
}
