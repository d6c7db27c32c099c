import BinderModel
import BinderUAPI

/// Keeps a shrink candidate's symbolic operands naming the objects they named in the scenario
/// it came from. Deleting steps shifts two kinds of operand:
/// - handles: descriptors are per process and the lowest free one is handed out
///   (`binder_get_ref_for_node_olocked` / `get_ref_desc_olocked`), so deleting a step that
///   created a ref renumbers every later ref of that process;
/// - `received#N`: the N-th buffer the process received since it opened the device;
/// - `created#N` and `received-fd#N`: the N-th file the process created, and the N-th fd the
///   driver installed in it.
/// The model tells which node each handle names and which step delivered each buffer, file
/// and fd, in the original and in the candidate; operands are rewritten where the two differ. The result is
/// only a guess at what the kernels do: the shrinker keeps it only if it still diverges.
public enum OperandRemap {
    /// A node by owner and `ptr` (owners are scenario process indices).
    struct NodeIdentity: Hashable { var owner: ProcessIndex; var ptr: UInt64 }
    /// A received buffer, created file or installed fd, by the original step that made it and
    /// its place among those that step made for the process.
    struct Delivery: Hashable { var step: Int; var position: Int }
    /// What the acting process holds just before a step: its handles and, by index, the buffers
    /// it received since it opened the device, the files it created and the fds it received.
    struct Holdings {
        var handles: [UInt32: NodeIdentity]
        var received: [Delivery] = []
        var created: [Delivery] = []
        var receivedFds: [Delivery] = []
    }

    /// What the model saw in the original scenario, step by step.
    public struct Original {
        let before: [Holdings]

        public init(_ scenario: Scenario) {
            var before: [Holdings] = []
            _ = OperandRemap.walk(scenario, origin: { $0 }) { _, step, holdings in before.append(holdings); return step }
            self.before = before
        }

        /// `candidate` with handle and `received#N` operands rewritten, where `kept[k]` is the
        /// index in the original of the candidate's step `k`.
        public func remap(_ candidate: Scenario, kept: [Int]) -> Scenario {
            precondition(kept.count == candidate.steps.count)
            return OperandRemap.walk(candidate, origin: { kept[$0] }) { k, step, now in
                let then = before[kept[k]]
                let handleNow = Dictionary(now.handles.map { ($0.value, $0.key) }, uniquingKeysWith: min)
                func index(_ n: UInt32, _ was: [Delivery], _ is: [Delivery]) -> UInt32 {
                    guard Int(n) < was.count, let m = `is`.firstIndex(of: was[Int(n)]) else { return n }
                    return UInt32(m)
                }
                return Step(step.process, step.thread, step.action.mapOperands(
                    handle: { h in then.handles[h].flatMap { handleNow[$0] } ?? h },
                    received: { index($0, then.received, now.received) },
                    fd: { ref in
                        switch ref {
                        case let .created(n): return .created(index: index(n, then.created, now.created))
                        case let .received(n): return .received(index: index(n, then.receivedFds, now.receivedFds))
                        case .literal: return ref
                        }
                    }))
            }
        }
    }

    /// Runs `s` on the model one step at a time. `visit` sees each step with what its process
    /// holds just before it, and returns the step to run instead; buffers a step delivers are
    /// recorded under `origin(k)`, the original index of step `k`. Returns the steps run.
    static func walk(_ s: Scenario, origin: (Int) -> Int, visit: (Int, Step, Holdings) -> Step) -> Scenario {
        let model = BinderModel(processCount: s.processCount)
        let runner = ScenarioRunner(backend: model, processCount: s.processCount)
        var received = Array(repeating: [Delivery](), count: s.processCount)
        var created = received, receivedFds = received
        var out = s
        for (k, step) in s.steps.enumerated() {
            guard step.process < s.processCount else {
                _ = runner.run(visit(k, step, Holdings(handles: [:])))
                continue
            }
            let p = step.process
            var handles: [UInt32: NodeIdentity] = [:]
            for ref in model.view(of: p).refs {
                if let owner = ref.nodeOwner { handles[ref.handle] = NodeIdentity(owner: owner, ptr: ref.nodePtr) }
            }
            let run = visit(k, step, Holdings(handles: handles, received: received[p], created: created[p], receivedFds: receivedFds[p]))
            out.steps[k] = run
            let before = runner.processes.map { ($0.received.count, $0.fds.created.count, $0.fds.received.count) }
            _ = runner.run(run)
            // A step delivers to its own process and, through the threads it wakes, to others.
            for q in 0..<s.processCount {
                let now = runner.processes[q]
                // A successful open starts the process's received list again (ScenarioRunner).
                if step.action == .open || step.action == .openBlocking, q == p, now.received.count == 0 { received[q] = [] }
                func add(_ list: inout [Delivery], from: Int, to: Int) {
                    for n in from..<max(from, to) { list.append(Delivery(step: origin(k), position: n - from)) }
                }
                add(&received[q], from: before[q].0, to: now.received.count)
                add(&created[q], from: before[q].1, to: now.fds.created.count)
                add(&receivedFds[q], from: before[q].2, to: now.fds.received.count)
            }
        }
        return out
    }
}
extension Action {
    /// This action with every handle operand passed through `handle`, every `received#N`
    /// through `received` and every fd operand through `fd`.
    func mapOperands(handle: (UInt32) -> UInt32, received: (UInt32) -> UInt32, fd: (FdRef) -> FdRef = { $0 }) -> Action {
        switch self {
        case let .nodeInfoForRef(h): return .nodeInfoForRef(handle: handle(h))
        case let .closeFd(r): return .closeFd(fd(r))
        case let .checkFd(r): return .checkFd(fd(r))
        case let .writeRead(wr):
            var w = wr
            w.commands = wr.commands.map { $0.mapOperands(handle: handle, received: received, fd: fd) }
            return .writeRead(w)
        default: return self
        }
    }
}

extension Command {
    func mapOperands(handle: (UInt32) -> UInt32, received: (UInt32) -> UInt32, fd: (FdRef) -> FdRef = { $0 }) -> Command {
        func payload(_ t: Transaction, target: Bool) -> Transaction {
            var u = t
            if target { u.handle = handle(t.handle) }
            for j in u.payload.objects.indices {
                switch u.payload.objects[j].kind {
                case let .handle(h, flags, weak): u.payload.objects[j].kind = .handle(handle(h), flags: flags, weak: weak)
                case let .fd(r): u.payload.objects[j].kind = .fd(fd(r))
                case let .fda(n, parent, off, fds): u.payload.objects[j].kind = .fda(numFds: n, parent: parent, parentOffset: off, fds: fds.map(fd))
                default: break
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
