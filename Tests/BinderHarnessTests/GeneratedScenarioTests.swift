import BinderHarness
import BinderModel
import BinderUAPI
import Testing

/// Model-versus-driver on generated scenarios. 8 disjoint seed chunks of 256 seeds (2,048
/// scenarios) run as a parameterized test, so both cores are used.
@Suite struct GeneratedScenarioTests {
    static let chunkCount = 8
    static let chunkSize: UInt64 = 256
    /// Distinct seed ranges: chunk k checks seeds base + k*chunkSize ..< base + (k+1)*chunkSize.
    static let seedBase: UInt64 = 0x5EED_0000

    @Test("model and driver agree on generated scenarios", arguments: 0..<chunkCount)
    func modelAgreesWithDriver(chunk: Int) {
        let start = Self.seedBase + UInt64(chunk) * Self.chunkSize
        let seeds = start..<(start + Self.chunkSize)
        let t0 = TestSupport.nowSeconds()
        var steps = 0
        var failures = 0
        for seed in seeds {
            let scenario = ScenarioGenerator.scenario(seed: seed)
            steps += scenario.steps.count
            guard let d = DifferentialRun(modelVersusDriver: scenario).divergence else { continue }
            failures += 1
            // Shrink and report only the first few failures of a chunk (shrinking is costly).
            guard failures <= 3 else { continue }
            let f = GeneratedCheck.failure(seed: seed, original: scenario, divergence: d)
            let path = TestSupport.saveRegression(f.shrunk)
            Issue.record("generated scenario diverged (saved to \(path)):\n\(f.report)")
        }
        let elapsed = max(TestSupport.nowSeconds() - t0, 1e-9)
        let n = Double(Self.chunkSize)
        print("GeneratedScenarioTests chunk \(chunk): \(Int(n)) scenarios, \(failures) diverging, "
              + "avg \(String(Double(steps) / n)) steps/scenario, "
              + "\(String(Int(n / elapsed))) scenarios/s (\(String(elapsed)) s)")
    }

    @Test("GeneratedCheck.firstFailure: model and driver agree on a seed range (a failure is reported shrunk)")
    func firstFailureAPI() {
        if let f = GeneratedCheck.firstFailure(seeds: [UInt64](1...16)) {
            TestSupport.saveRegression(f.shrunk)
            Issue.record("model and driver disagree:\n\(f.report)")
        }
    }

    @Test("generated scenarios are rich: processes, threads, steps, coverage of commands")
    func generatorShape() {
        var totalSteps = 0
        var names: [String: Int] = [:]
        let n = 200
        for seed in 0..<UInt64(n) {
            let s = ScenarioGenerator.scenario(seed: seed)
            #expect(s.processCount >= 3 && s.processCount <= 5)
            totalSteps += s.steps.count
            var seenThreads: Set<[Int]> = []
            // An open can fail (-EMFILE below a low fd limit): only a new proc restarts the rule.
            let outcomes = ScenarioRunner.trace(s, on: BinderModel(processCount: s.processCount)).outcomes
            for (i, step) in s.steps.enumerated() {
                if case let .writeRead(wr) = step.action {
                    for c in wr.commands {
                        var name = ScenarioText.describe(c).split(separator: " ").first.map(String.init) ?? "?"
                        if name.hasPrefix("raw[") { name = "raw" }
                        names[name, default: 0] += 1
                    }
                    if wr.readSize > 0 { names["read", default: 0] += 1 }
                } else {
                    names[ScenarioText.actionName(step.action), default: 0] += 1
                }
                // Every thread's first ioctl on a fresh proc is BINDER_VERSION.
                switch step.action {
                case .open, .openBlocking:
                    if outcomes[i].result == 0 { seenThreads = seenThreads.filter { $0[0] != step.process } }
                case .mmap, .munmap, .close, .signal, .flushDuplicate, .exit, .newFile, .closeFd, .checkFd, .fdLimit: break
                case .threadExit: seenThreads.remove([step.process, step.thread])
                default:
                    if !seenThreads.contains([step.process, step.thread]) {
                        #expect(step.action == .version, "seed \(seed): first ioctl of P\(step.process).T\(step.thread) is \(ScenarioText.describe(step))")
                        seenThreads.insert([step.process, step.thread])
                    }
                }
            }
        }
        let avg = Double(totalSteps) / Double(n)
        print("generator: avg \(avg) steps/scenario; command mix: \(names.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))")
        #expect(avg >= 30)
        for required in ["BC_TRANSACTION", "BC_REPLY", "BC_FREE_BUFFER", "BC_ACQUIRE", "BC_RELEASE", "BC_INCREFS", "BC_DECREFS",
                         "BC_INCREFS_DONE", "BC_ACQUIRE_DONE", "BC_REQUEST_DEATH_NOTIFICATION", "BC_CLEAR_DEATH_NOTIFICATION",
                         "BC_DEAD_BINDER_DONE", "BC_ENTER_LOOPER", "BC_REGISTER_LOOPER", "munmap", "close", "thread-exit",
                         "freeze", "get-extended-error", "node-debug-info", "node-info-for-ref", "read", "raw"] {
            #expect((names[required] ?? 0) > 0, "never generated: \(required)")
        }
    }
}
