import BinderModel
import BinderUAPI

/// Keeps a shrink candidate's symbolic operands naming the objects they named in the scenario
/// it came from. Deleting steps shifts two kinds of operand:
/// - handles: descriptors are per process and the lowest free one is handed out
///   (`binder_get_ref_for_node_olocked` / `get_ref_desc_olocked`), so deleting a step that
///   created a ref renumbers every later ref of that process;
/// - `received#N`: the N-th buffer the process received since it opened the device.
/// The model tells which node each handle names and which step delivered each buffer, in the
/// original and in the candidate; operands are rewritten where the two differ. The result is
/// only a guess at what the kernels do: the shrinker keeps it only if it still diverges.
public enum OperandRemap {
    /// A node by owner and `ptr` (owners are scenario process indices).
    struct NodeIdentity: Hashable { var owner: ProcessIndex; var ptr: UInt64 }
    /// A received buffer by the original step that delivered it and its place in that read.
    struct Delivery: Hashable { var step: Int; var position: Int }

    /// What the model saw in the original scenario.
    public struct Original {
        let scenario: Scenario
        let handles: [[UInt32: NodeIdentity]]
        let deliveries: [[UInt32: Delivery]]

        public init(_ scenario: Scenario) {
            self.scenario = scenario
            (handles, deliveries) = OperandRemap.observe(scenario)
        }

        /// `candidate` with handle and `received#N` operands rewritten, where `kept[k]` is the
        /// index in the original of the candidate's step `k`.
        public func remap(_ candidate: Scenario, kept: [Int]) -> Scenario {
            precondition(kept.count == candidate.steps.count)
            let model = BinderModel(processCount: candidate.processCount)
            let runner = ScenarioRunner(backend: model, processCount: candidate.processCount)
            var out = candidate
            var deliveredHere = Array(repeating: [Delivery: UInt32](), count: candidate.processCount)
            for (k, step) in candidate.steps.enumerated() {
                let i = kept[k]
                guard i < handles.count, step.process < candidate.processCount else { _ = runner.run(step); continue }
                let p = step.process
                var renumbered: [UInt32: UInt32] = [:]
                for ref in model.view(of: p).refs {
                    guard let owner = ref.nodeOwner else { continue }
                    let id = NodeIdentity(owner: owner, ptr: ref.nodePtr)
                    if let old = handles[i].first(where: { $0.value == id })?.key, old != ref.handle { renumbered[old] = ref.handle }
                }
                func buffer(_ n: UInt32) -> UInt32 {
                    guard let d = deliveries[i][n], let m = deliveredHere[p][d] else { return n }
                    return m
                }
                let rewritten = Step(p, step.thread, step.action.mapOperands(handle: { renumbered[$0] ?? $0 }, received: buffer))
                out.steps[k] = rewritten
                let count = runner.processes[p].received.count
                _ = runner.run(rewritten)
                let now = runner.processes[p].received.count
                if case .open = step.action, now == 0 { deliveredHere[p] = [:] }
                for n in count..<max(count, now) { deliveredHere[p][Delivery(step: i, position: n - count)] = UInt32(n) }
            }
            return out
        }
    }

    /// Per original step: the handles of the acting process (before the step) and which
    /// delivery each `received#N` of that process refers to.
    static func observe(_ s: Scenario) -> (handles: [[UInt32: NodeIdentity]], deliveries: [[UInt32: Delivery]]) {
        let model = BinderModel(processCount: s.processCount)
        let runner = ScenarioRunner(backend: model, processCount: s.processCount)
        var handles: [[UInt32: NodeIdentity]] = []
        var deliveries: [[UInt32: Delivery]] = []
        var received = Array(repeating: [Delivery](), count: s.processCount)
        for (i, step) in s.steps.enumerated() {
            guard step.process < s.processCount else { handles.append([:]); deliveries.append([:]); _ = runner.run(step); continue }
            let p = step.process
            var h: [UInt32: NodeIdentity] = [:]
            for ref in model.view(of: p).refs { if let o = ref.nodeOwner { h[ref.handle] = NodeIdentity(owner: o, ptr: ref.nodePtr) } }
            handles.append(h)
            var d: [UInt32: Delivery] = [:]
            for (n, x) in received[p].enumerated() { d[UInt32(n)] = x }
            deliveries.append(d)
            let count = runner.processes[p].received.count
            _ = runner.run(step)
            let now = runner.processes[p].received.count
            if case .open = step.action, now == 0 { received[p] = [] }
            for n in count..<max(count, now) { received[p].append(Delivery(step: i, position: n - count)) }
        }
        return (handles, deliveries)
    }
}

extension Action {
    /// This action with every handle operand passed through `handle` and every `received#N`
    /// through `received`.
    func mapOperands(handle: (UInt32) -> UInt32, received: (UInt32) -> UInt32) -> Action {
        switch self {
        case let .nodeInfoForRef(h): return .nodeInfoForRef(handle: handle(h))
        case let .writeRead(wr):
            var w = wr
            w.commands = wr.commands.map { $0.mapOperands(handle: handle, received: received) }
            return .writeRead(w)
        default: return self
        }
    }
}

extension Command {
    func mapOperands(handle: (UInt32) -> UInt32, received: (UInt32) -> UInt32) -> Command {
        func payload(_ t: Transaction, target: Bool) -> Transaction {
            var u = t
            if target { u.handle = handle(t.handle) }
            for j in u.payload.objects.indices {
                if case let .handle(h, flags, weak) = u.payload.objects[j].kind {
                    u.payload.objects[j].kind = .handle(handle(h), flags: flags, weak: weak)
                }
            }
            return u
        }
        switch self {
        case let .transaction(t): return .transaction(payload(t, target: true))
        case let .reply(t): return .reply(payload(t, target: false))
        case let .freeBuffer(.received(n)): return .freeBuffer(.received(index: received(n)))
        case let .increfs(h): return .increfs(handle(h))
        case let .acquire(h): return .acquire(handle(h))
        case let .release(h): return .release(handle(h))
        case let .decrefs(h): return .decrefs(handle(h))
        case let .requestDeathNotification(h, c): return .requestDeathNotification(handle: handle(h), cookie: c)
        case let .clearDeathNotification(h, c): return .clearDeathNotification(handle: handle(h), cookie: c)
        case let .requestFreezeNotification(h, c): return .requestFreezeNotification(handle: handle(h), cookie: c)
        case let .clearFreezeNotification(h, c): return .clearFreezeNotification(handle: handle(h), cookie: c)
        default: return self
        }
    }
}
