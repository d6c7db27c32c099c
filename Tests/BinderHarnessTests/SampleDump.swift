import BinderHarness
import BinderUAPI
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Prints generated scenarios with their model trace and outcome statistics when
/// BINDER_GEN_SAMPLE=<seed> is set (a debugging aid; does nothing otherwise).
@Suite struct SampleDump {
    @Test func dump() {
        guard let env = getenv("BINDER_GEN_SAMPLE"), let seed = UInt64(String(cString: env)) else { return }
        let s = ScenarioGenerator.scenario(seed: seed)
        let run = DifferentialRun(modelVersusDriver: s)
        print(ScenarioText.render(s, outcomes: run.leftOutcomes))
        var stats: [String: Int] = [:]
        for seed2 in 0..<UInt64(300) {
            let sc = ScenarioGenerator.scenario(seed: seed2)
            let tr = ScenarioRunner.trace(sc, on: BackendKind.model.make(processCount: sc.processCount))
            for o in tr.outcomes {
                if o.skipped != nil { stats["skipped", default: 0] += 1 }
                if let r = o.result, r != 0 { stats["errno \(Errno.describe(r))", default: 0] += 1 }
                for ret in o.returns {
                    let name: String
                    switch ret {
                    case let .plain(c), let .ptrCookie(c, _, _), let .cookie(c, _), let .transaction(c, _): name = c.description
                    case .frozenBinder: name = "BR_FROZEN_BINDER"
                    case .truncated: name = "truncated"
                    case .unknown: name = "unknown"
                    }
                    stats[name, default: 0] += 1
                }
            }
        }
        print(stats.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "\n"))
    }
}

/// A long model-vs-driver sweep when BINDER_GEN_SWEEP=<first seed>:<count> is set (split in two
/// halves that run in parallel). Prints each shrunk failure and saves it in Corpus/regressions.
@Suite struct LongSweep {
    @Test(arguments: 0..<2)
    func sweep(half: Int) {
        guard let env = getenv("BINDER_GEN_SWEEP") else { return }
        let parts = String(cString: env).split(separator: ":").compactMap { UInt64($0) }
        guard parts.count == 2 else { return }
        let per = parts[1] / 2
        let start = parts[0] + UInt64(half) * per
        var signatures: Set<String> = []
        let t0 = TestSupport.nowSeconds()
        for seed in start..<(start + per) {
            let s = ScenarioGenerator.scenario(seed: seed)
            guard let d = DifferentialRun(modelVersusDriver: s).divergence else { continue }
            guard signatures.insert(d.signature).inserted else { continue }
            let f = GeneratedCheck.failure(seed: seed, original: s, divergence: d)
            let path = TestSupport.saveRegression(f.shrunk)
            print("=== SWEEP FAILURE (saved \(path))\n\(f.report)\n===")
        }
        print("sweep half \(half): \(per) seeds in \(TestSupport.nowSeconds() - t0) s, signatures: \(signatures.sorted())")
    }
}
