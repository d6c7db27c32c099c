#if os(Linux)
import BinderDriver
import Dispatch
import BinderHarness
import BinderModel
import BinderUAPI

/// One side of a comparison: the model, the driver, or a kernel booted in the VM.
public enum ComparisonSide: CustomStringConvertible {
    case model
    case driver
    case kernel(name: String, bzImage: String, release: String)

    public var description: String {
        switch self {
        case .model: return "model"
        case .driver: return "driver"
        case let .kernel(name, _, release): return "\(name) (\(release))"
        }
    }
    public var shortName: String {
        switch self {
        case .model: return "model"
        case .driver: return "driver"
        case let .kernel(name, _, _): return name
        }
    }
}

/// Runs batches of scenarios on one side; kernel sides boot the VM once per batch.
public struct SideRunner {
    public var side: ComparisonSide
    public var binary: String
    public var workDir: String
    public var batchSize = 400
    public var log: (String) -> Void

    public init(side: ComparisonSide, binary: String, workDir: String, log: @escaping (String) -> Void) {
        self.side = side; self.binary = binary; self.workDir = workDir; self.log = log
    }

    /// Outcomes per scenario (nil when the kernel did not return a complete trace).
    public func run(_ scenarios: [Scenario]) -> [[StepOutcome]?] {
        switch side {
        case .model:
            return scenarios.map { ScenarioRunner.trace($0, on: BinderModel(processCount: $0.processCount)).outcomes }
        case .driver:
            return scenarios.map { ScenarioRunner.trace($0, on: BinderDriver(processCount: $0.processCount)).outcomes }
        case let .kernel(name, bzImage, _):
            var batches = BootBatches(bzImage: bzImage, binary: binary, workDir: "\(workDir)/\(name)")
            batches.batchSize = batchSize
            let r = batches.run(scenarios, log: { _ in })
            for e in r.errors { log("\(name): \(e)") }
            return scenarios.indices.map { r.traces[$0].count == scenarios[$0].steps.count ? r.traces[$0] : nil }
        }
    }
}

/// A class of divergences sharing a signature, with its minimal reproducer.
public struct DivergenceClass {
    public var signature: String
    public var count: Int
    /// The first scenario of the class, and the one shrunk (the smallest).
    public var example: String
    public var representative: String
    public var minimal: Scenario
    public var difference: TraceDifference
    public var leftTrace: [StepOutcome]
    public var rightTrace: [StepOutcome]
    /// Boots (per kernel side) on which the minimal scenario reproduced the same signature.
    public var confirmations: Int = 0
    public var confirmationRuns: Int = 0
}

/// Compares two sides on many scenarios, clusters the divergences, shrinks one representative
/// per class in batches (each VM boot evaluates every class's candidates), and confirms each
/// minimal scenario on repeated boots.
public struct Comparison {
    public var left: SideRunner
    public var right: SideRunner
    public var log: (String) -> Void
    public var maxShrinkRounds = 30
    public var candidatesPerClass = 120
    public var targetSteps = 12
    /// A class whose minimal scenario has at most this many steps gets no more candidates
    /// (0: every class shrinks to a local minimum).
    public var stopAtSteps = 0
    /// Called after every shrink round with each class whose minimal scenario got smaller, so
    /// that a long run that is stopped keeps its progress.
    public var checkpoint: ((_ signature: String, _ minimal: Scenario) -> Void)?

    public init(left: SideRunner, right: SideRunner, log: @escaping (String) -> Void) {
        self.left = left; self.right = right; self.log = log
    }

    /// Runs jobs at the same time (each side boots its own VMs); results in order, with the
    /// wall-clock seconds of each job.
    public static func runConcurrently<T>(_ jobs: [() -> T]) -> [(value: T, seconds: Double)] {
        let results = Slots<(value: T, seconds: Double)>(count: jobs.count)
        let lock = HostMutex()
        let group = DispatchGroup()
        for (k, job) in jobs.enumerated() {
            group.enter()
            DispatchQueue.global().async {
                let t = HostTools.now()
                let v = job()
                let seconds = HostTools.now() - t
                lock.locked { results.values[k] = (v, seconds) }
                group.leave()
            }
        }
        group.wait()
        return results.values.map { $0! }
    }

    /// Both sides' traces, the two sides run at the same time.
    func traces(_ scenarios: [Scenario]) -> (Traces, Traces) {
        let r = Comparison.runConcurrently([{ left.run(scenarios) }, { right.run(scenarios) }])
        return (r[0].value, r[1].value)
    }

    func differences(_ scenarios: [Scenario]) -> [TraceDifference?] {
        let (a, b) = traces(scenarios)
        return scenarios.indices.map { i in
            guard let x = a[i], let y = b[i] else { return nil }
            return TraceDifference.between(scenarios[i], x, y)
        }
    }

    /// Traces of the full scenario set, per side, so that a side shared by several comparisons
    /// (`--also`) runs once.
    public typealias Traces = [[StepOutcome]?]

    public func run(_ named: [(name: String, scenario: Scenario)], confirmBoots: Int = 3,
                    leftTraces: Traces? = nil, rightTraces: Traces? = nil)
        -> (classes: [DivergenceClass], compared: Int, missing: Int, leftTraces: Traces, rightTraces: Traces) {
        let scenarios = named.map(\.scenario)
        let (a, b) = leftTraces != nil && rightTraces != nil ? (leftTraces!, rightTraces!) : traces(scenarios)
        var classes: [String: (count: Int, index: Int, first: Int)] = [:]
        var order: [String] = []
        var missing = 0, compared = 0
        var diffs: [Int: TraceDifference] = [:]
        for i in scenarios.indices {
            guard let x = a[i], let y = b[i] else { missing += 1; continue }
            compared += 1
            guard let d = TraceDifference.between(scenarios[i], x, y) else { continue }
            diffs[i] = d
            if let c = classes[d.signature] {
                let better = Comparison.betterRepresentative(scenarios[i], d.stepIndex,
                                                             than: scenarios[c.index], diffs[c.index]!.stepIndex)
                classes[d.signature] = (c.count + 1, better ? i : c.index, c.first)
            } else {
                classes[d.signature] = (1, i, i)
                order.append(d.signature)
            }
        }
        log("compared \(compared) scenarios (\(missing) incomplete): \(order.count) divergence classes")
        // Shrink all representatives together, one batch per round. Each round tries chunk
        // deletions and simplifications; besides the smallest candidate that keeps the class,
        // the next round also tries deleting the union of every chunk that could be deleted alone.
        var current: [String: Scenario] = [:]
        var merged: [String: [Scenario]] = [:]
        for sig in order { current[sig] = Comparison.truncated(scenarios[classes[sig]!.index], at: diffs[classes[sig]!.index]!.stepIndex) }
        // A class whose candidates all failed in a round, with nothing merged to try, is at a
        // local minimum: it gets no more candidates.
        // Candidates are tried in windows of `candidatesPerClass`: a round without progress moves
        // the class's window on; a class is stalled once every window failed, and shrinking ends
        // when every class is stalled (an empty batch).
        var stalled = Set<String>()
        var window: [String: Int] = [:]
        for round in 0..<maxShrinkRounds {
            var batch: [(sig: String, candidate: Scenario, removed: Range<Int>?)] = []
            for sig in order where !stalled.contains(sig) {
                if current[sig]!.steps.count <= stopAtSteps { stalled.insert(sig); continue }
                for m in merged[sig] ?? [] { batch.append((sig, m, nil)) }
                let all = ShrinkMoves.candidates(current[sig]!)
                let start = window[sig, default: 0]
                if start >= all.count { stalled.insert(sig); continue }
                for c in all[start..<min(all.count, start + candidatesPerClass)] { batch.append((sig, c.scenario, c.removed)) }
            }
            merged = [:]
            if batch.isEmpty { break }
            log("shrink round \(round + 1): \(batch.count) candidates")
            let ds = differences(batch.map(\.candidate))
            var deletable: [String: [Range<Int>]] = [:]
            let before = current
            for (k, entry) in batch.enumerated() {
                guard let d = ds[k], d.signature == entry.sig else { continue }
                if let r = entry.removed { deletable[entry.sig, default: []].append(r) }
                let shorter = Comparison.truncated(entry.candidate, at: d.stepIndex)
                if ShrinkMoves.smaller(shorter, than: current[entry.sig]!) { current[entry.sig] = shorter }
            }
            for (sig, ranges) in deletable where ranges.count > 1 {
                // All deletable chunks at once, and each half of them, in case the union fails.
                let half = ranges.count / 2
                let base = before[sig]!, observed = OperandRemap.Original(base)
                for group in [ranges, Array(ranges[..<half]), Array(ranges[half...])] where !group.isEmpty {
                    for m in ShrinkMoves.deletions(base, observed, dropping: { i in group.contains { $0.contains(i) } })
                    where ShrinkMoves.smaller(m, than: current[sig]!) {
                        merged[sig, default: []].append(m)
                    }
                }
            }
            for sig in order where current[sig]! != before[sig]! { checkpoint?(sig, current[sig]!) }
            for sig in order where !stalled.contains(sig) {
                if current[sig]! != before[sig]! || merged[sig] != nil { window[sig] = 0 } else { window[sig, default: 0] += candidatesPerClass }
            }
            if order.allSatisfy({ current[$0]!.steps.count <= targetSteps / 2 }) { break }
        }
        // Final traces and confirmation boots.
        let minimal = order.map { current[$0]! }
        var confirmations = Array(repeating: 0, count: order.count)
        var finalDiffs: [TraceDifference?] = Array(repeating: nil, count: order.count)
        var finalA: [[StepOutcome]] = Array(repeating: [], count: order.count)
        var finalB: [[StepOutcome]] = Array(repeating: [], count: order.count)
        for boot in 0..<max(1, confirmBoots) {
            let x = left.run(minimal), y = right.run(minimal)
            for i in order.indices {
                guard let p = x[i], let q = y[i], let d = TraceDifference.between(minimal[i], p, q), d.signature == order[i] else { continue }
                confirmations[i] += 1
                if boot == 0 || finalDiffs[i] == nil { finalDiffs[i] = d; finalA[i] = p; finalB[i] = q }
            }
        }
        var result: [DivergenceClass] = []
        for (i, sig) in order.enumerated() {
            let d = finalDiffs[i] ?? diffs[classes[sig]!.index]!
            let c = classes[sig]!
            result.append(DivergenceClass(signature: sig, count: c.count, example: named[c.first].name,
                                          representative: named[c.index].name,
                                          minimal: minimal[i], difference: d, leftTrace: finalA[i], rightTrace: finalB[i],
                                          confirmations: confirmations[i], confirmationRuns: max(1, confirmBoots)))
        }
        return (result.sorted { $0.count > $1.count }, compared, missing, a, b)
    }

    /// Whether `a` (diverging at step `i`) should represent its class instead of `b` (at `j`):
    /// the smaller of the two once truncated at the divergence, so that a stored minimal
    /// scenario (Corpus/rust-vs-c) is kept as is and a regeneration starts from it.
    public static func betterRepresentative(_ a: Scenario, _ i: Int, than b: Scenario, _ j: Int) -> Bool {
        ShrinkMoves.smaller(truncated(a, at: i), than: truncated(b, at: j))
    }

    static func truncated(_ s: Scenario, at index: Int) -> Scenario {
        var t = s
        if index + 1 < t.steps.count { t.steps.removeSubrange((index + 1)...) }
        return t
    }
}
#endif
