import BinderModel
import BinderUAPI

/// Model-guided scenario generator.
///
/// Each scenario is built step by step against a live `BinderModel` (through a `ScenarioRunner`):
/// the generator looks at the model's current view of every process (refs, nodes, threads,
/// freeable buffers, pending notifications) and picks a next step whose preconditions hold most
/// of the time (about 10% of the steps are deliberate error paths), then runs it on the model.
/// The same seed gives the same scenario in every process (`SplitMix64`, no hashing order).
public struct ScenarioGenerator {
    public let seed: UInt64
    public var rng: SplitMix64
    /// Steps generated after the setup (open, mmap, context manager) of the processes.
    public var bodySteps: ClosedRange<Int> = 30...50
    public var processes: ClosedRange<Int> = 3...5
    public var threads: ClosedRange<Int> = 2...4
    /// Percentage of body iterations that take a deliberate error path.
    public var invalidPercent = 10
    /// Weight of the freeze move (freeze, frozen info, freeze notifications); 1 of about 70 by default.
    public var freezeWeight = 1
    /// Percentage of scenarios where one process enables oneway spam detection.
    public var spamDetectionPercent = 10
    /// Percentage of opens without `O_NONBLOCK` (reads with no work park the thread).
    public var blockingOpenPercent = 45
    /// Weight of the blocking moves (park a looper, poll, signal, dup-close, exit).
    public var blockingWeight = 4
    /// Weight of the file moves (make a file, check or close an fd, change the fd limit); with
    /// 0, no files are made or passed.
    public var fileWeight = 5
    /// Processes behave like libbinder (`ProcessState`/`IPCThreadState`): blocking fds mapped
    /// with 1 MiB - 8 KiB, BINDER_SET_MAX_THREADS 15, every thread a looper before it reads
    /// (BC_REGISTER_LOOPER to answer BR_SPAWN_LOOPER, else BC_ENTER_LOOPER), main threads that
    /// poll, process 0 as servicemanager.
    public var libbinder = false

    public init(seed: UInt64) {
        self.seed = seed
        self.rng = SplitMix64(seed: seed)
    }

    /// Generates the next scenario of this generator's stream.
    public mutating func generate() -> Scenario {
        let session = GenerationSession(rng: rng, config: self)
        let scenario = session.run()
        rng = session.rng
        return scenario
    }

    /// The first scenario of `seed`'s stream.
    public static func scenario(seed: UInt64) -> Scenario {
        var g = ScenarioGenerator(seed: seed)
        return g.generate()
    }
}

/// One generation run: a model, a runner on it, and the generator's own bookkeeping.
final class GenerationSession {
    struct ProcState {
        var threadCount: Int
        var open = false
        var mapped = false
        /// Threads whose first ioctl (BINDER_VERSION) has been issued on the current proc.
        var initialized: Set<Int> = []
        /// Mirror of the runner's list of received buffer offsets (for `BufferRef.received`).
        var received: [UInt64] = []
        /// Freeze-notification cookies requested (handle, cookie), and delivered ones.
        var freezeRequests: [(handle: UInt32, cookie: UInt64)] = []
        var deliveredFreeze: [UInt64] = []
        /// Half-way through a death (munmap or close done, the other pending).
        var dying = false
        var frozen = false
        var pages: UInt32 = 16
        /// BR_SPAWN_LOOPER requests not yet answered with BC_REGISTER_LOOPER.
        var spawnRequests = 0
    }

    var rng: SplitMix64
    let config: ScenarioGenerator
    let processCount: Int
    var model: BinderModel
    var runner: ScenarioRunner
    var steps: [Step] = []
    var procs: [ProcState]
    var views: [ModelProcessView] = []
    var cookieCounter: UInt64 = 0
    var deaths = 0
    /// A few trailing sizes this scenario favours, so that equal-sized buffers (and so the
    /// allocator's tie-breaking between equal free blocks, §8.4) come up often.
    var sizePalette: [UInt32] = []

    init(rng: SplitMix64, config: ScenarioGenerator) {
        self.rng = rng
        self.config = config
        var r = rng
        processCount = min(Scenario.maxProcesses, r.int(config.processes.lowerBound...config.processes.upperBound))
        procs = (0..<processCount).map { _ in
            ProcState(threadCount: min(Scenario.maxThreads, r.int(config.threads.lowerBound...config.threads.upperBound)))
        }
        sizePalette = (0..<r.int(1...3)).map { _ in r.pick([0, 8, 24, 40, 64, 120, 200]) as UInt32 }
        self.rng = r
        model = BinderModel(processCount: processCount)
        runner = ScenarioRunner(backend: model, processCount: processCount)
    }

    func run() -> Scenario {
        setup()
        let target = steps.count + rng.int(config.bodySteps.lowerBound...config.bodySteps.upperBound)
        var iterations = 0
        while steps.count < target, iterations < target * 6 {
            iterations += 1
            refreshViews()
            if rng.percent(config.invalidPercent) {
                if invalidStep() { continue }
            }
            bodyStep()
        }
        return Scenario(processCount: processCount, steps: steps)
    }

    // MARK: - running steps on the model

    /// Runs a step on the model and keeps it, unless the step cannot run (a parked thread, an
    /// exited process, a close while threads are parked) or its outcome may depend on the
    /// kernel's scheduling: then the step is dropped and the model rebuilt without it.
    @discardableResult
    func emit(_ p: ProcessIndex, _ t: ThreadIndex, _ action: Action) -> StepOutcome {
        if runner.hasExited(p) { return .skip("exited") }
        if !action.isProcessEvent, runner.isParked(p, t) { return .skip("thread parked") }
        if action == .close, runner.hasParkedThread(p) { return .skip("threads parked") }
        switch action {
        case .open, .openBlocking, .mmap, .munmap, .close, .version, .signal, .exit, .flushDuplicate, .sleep,
             .newFile, .closeFd, .checkFd, .fdLimit: break
        default:
            ensureInitialized(p, t)
            if runner.isParked(p, t) { return .skip("thread parked") }
        }
        let step = Step(p, t, action)
        let before = procs
        steps.append(step)
        let outcome = runner.run(step)
        if runner.lastStepIsSchedulingDependent {
            steps.removeLast()
            procs = before
            rebuildModel()
            return .skip("scheduling-dependent")
        }
        record(step, outcome)
        return outcome
    }

    /// A fresh model and runner that have run `steps`.
    private func rebuildModel() {
        model = BinderModel(processCount: processCount)
        runner = ScenarioRunner(backend: model, processCount: processCount)
        for s in steps { _ = runner.run(s) }
    }

    func openAction() -> Action { config.libbinder || rng.percent(config.blockingOpenPercent) ? .openBlocking : .open }

    /// A thread's first ioctl on a proc is always BINDER_VERSION; under `libbinder` the
    /// thread then joins the looper (`IPCThreadState::joinThreadPool`).
    func ensureInitialized(_ p: ProcessIndex, _ t: ThreadIndex) {
        guard procs[p].open, !procs[p].initialized.contains(t) else { return }
        emit(p, t, .version)
        if config.libbinder { joinLooper(p, t) }
    }

    /// BC_REGISTER_LOOPER when a BR_SPAWN_LOOPER is unanswered, else BC_ENTER_LOOPER.
    func joinLooper(_ p: ProcessIndex, _ t: ThreadIndex) {
        let register = procs[p].spawnRequests > 0
        if register { procs[p].spawnRequests -= 1 }
        emit(p, t, .writeRead(WriteRead(commands: [register ? .registerLooper : .enterLooper])))
    }

    private func record(_ step: Step, _ o: StepOutcome) {
        let p = step.process
        guard o.skipped == nil else { return }
        switch step.action {
        case .open, .openBlocking:
            if o.result == 0 {
                let threads = procs[p].threadCount, pages = procs[p].pages
                procs[p] = ProcState(threadCount: threads, open: true)
                procs[p].pages = pages
            }
        case .mmap:
            if o.result == 0 { procs[p].mapped = true }
        case .munmap:
            procs[p].mapped = false
        case .close:
            procs[p].open = false
        case .exit:
            procs[p].open = false
            procs[p].mapped = false
            procs[p].dying = false
        case .signal, .flushDuplicate, .sleep, .newFile, .closeFd, .checkFd, .fdLimit:
            break
        case .threadExit:
            procs[p].initialized.remove(step.thread)
        case let .freeze(target, enable, _):
            if o.result == 0, target >= 0, target < processCount { procs[target].frozen = enable != 0 }
            procs[p].initialized.insert(step.thread)
        default:
            procs[p].initialized.insert(step.thread)
        }
        recordReturns(o.returns, of: p)
        for c in o.completions { recordReturns(c.outcome.returns, of: c.process) }
        if !procs[p].open, !procs[p].mapped { procs[p].frozen = false }
    }

    /// Received buffers and delivered freeze notices, in the runner's order.
    private func recordReturns(_ returns: [DecodedReturn], of p: ProcessIndex) {
        for r in returns {
            switch r {
            case .plain(.spawnLooper):
                procs[p].spawnRequests += 1
            case let .transaction(_, rt):
                if case let .mapped(_, off) = rt.buffer { procs[p].received.append(off) }
            case let .frozenBinder(cookie, _, _):
                procs[p].deliveredFreeze.append(cookie)
            default: break
            }
        }
    }

    func refreshViews() {
        views = (0..<processCount).map { model.view(of: $0) }
    }

    // MARK: - setup

    func mmapPages() -> UInt32 {
        switch rng.below(10) {
        case 0, 1: return rng.u32(1...2)
        case 2: return rng.u32(3...8)
        case 3, 4, 5, 6: return rng.u32(8...32)
        default: return rng.u32(32...64)
        }
    }

    func setup() {
        if config.libbinder { return libbinderSetup() }
        let order = (0..<processCount).map { $0 }
        for p in order {
            procs[p].pages = mmapPages()
            emit(p, 0, openAction())
            if rng.percent(3) { emit(p, 0, .mmap(pages: procs[p].pages, prot: MmapRules.protRead | MmapRules.protWrite)) }
            emit(p, 0, .mmap(pages: procs[p].pages, prot: MmapRules.protRead))
        }
        // The context manager.
        if rng.percent(90) {
            let cm = rng.percent(80) ? 0 : rng.below(processCount)
            if rng.percent(config.fileWeight > 0 ? 45 : 70) {
                emit(cm, 0, .setContextManager)
            } else {
                let ptr: UInt64 = rng.percent(50) ? 0 : nodePtr(cm, 0)
                let flags = config.fileWeight > 0 && rng.percent(80) ? FlatBinderFlags.acceptsFDs : 0
                emit(cm, 0, .setContextManagerExt(ptr: ptr, cookie: ptr == 0 ? 0 : cookie(for: ptr), flags: flags))
            }
            if rng.percent(60) {
                emit(cm, 0, .writeRead(WriteRead(commands: [.enterLooper], readSize: readSize())))
            }
            if rng.percent(8) {
                let other = (cm + 1 + rng.below(processCount - 1)) % processCount
                emit(other, 0, rng.percent(50) ? .setContextManager : .setContextManagerExt(ptr: 0, cookie: 0, flags: 0))
            }
        }
        for p in 0..<processCount where rng.percent(30) {
            emit(p, rng.below(procs[p].threadCount), .setMaxThreads(rng.u32(0...3)))
        }
        if rng.percent(config.spamDetectionPercent) {
            let p = rng.below(processCount)
            emit(p, 0, .enableOnewaySpamDetection(1))
        }
        giveFiles()
    }

    // MARK: - helpers

    func nodePtr(_ p: ProcessIndex, _ k: Int) -> UInt64 { 0x10_0000 * UInt64(p + 1) + 0x100 * UInt64(k + 1) }
    func cookie(for ptr: UInt64) -> UInt64 { ptr &* 16 &+ 0xC }
    func freshCookie() -> UInt64 { cookieCounter += 1; return 0xC0DE_0000 + cookieCounter }

    func readSize() -> UInt32 {
        switch rng.below(10) {
        case 0, 1: return rng.u32(80...160)
        case 2, 3, 4, 5, 6: return rng.pick([256, 512, 1024])
        default: return rng.pick([2048, 4096, 16384])
        }
    }

    func threadView(_ p: ProcessIndex, _ t: ThreadIndex) -> ModelThreadView? {
        views[p].threads.first { $0.thread == t }
    }

    var liveProcesses: [ProcessIndex] { (0..<processCount).filter { procs[$0].open } }

    func randomThread(_ p: ProcessIndex) -> ThreadIndex {
        // Prefer initialized threads, but use new ones too.
        let inited = procs[p].initialized.sorted()
        if !inited.isEmpty, rng.percent(75) { return rng.pick(inited) }
        return rng.below(procs[p].threadCount)
    }

    /// A thread that may start a sync call (its stack top is not its own outgoing call).
    func callerThread(_ p: ProcessIndex, allowNested: Bool) -> ThreadIndex? {
        let all = (0..<procs[p].threadCount).filter { t in !(threadView(p, t)?.awaitingReply ?? false) }
        guard !all.isEmpty else { return nil }
        let nested = all.filter { threadView(p, $0)?.mustReply ?? false }
        if allowNested, !nested.isEmpty, rng.percent(35) { return rng.pick(nested) }
        let idle = all.filter { !(threadView(p, $0)?.mustReply ?? false) }
        if !idle.isEmpty, rng.percent(85) {
            let inited = idle.filter { procs[p].initialized.contains($0) }
            return !inited.isEmpty && rng.percent(80) ? rng.pick(inited) : rng.pick(idle)
        }
        return rng.pick(all)
    }

    /// Threads that would get something from a read now.
    func readableThreads(_ p: ProcessIndex) -> [ThreadIndex] {
        let v = views[p]
        return (0..<procs[p].threadCount).filter { t in
            guard let tv = threadView(p, t) else { return v.procTodoCount > 0 }
            if tv.todoCount > 0 || tv.returnErrorPending { return true }
            return v.procTodoCount > 0 && !tv.awaitingReply && !tv.mustReply
        }
    }

    func bufferRef(_ p: ProcessIndex, offset: UInt64) -> BufferRef {
        if rng.percent(75), let i = procs[p].received.lastIndex(of: offset) { return .received(index: UInt32(i)) }
        return .mappingOffset(offset)
    }

    /// Freeable buffers of a process as mapping offsets.
    func freeable(_ p: ProcessIndex) -> [UInt64] {
        // The model may report addresses in its own fake mapping (base has zero low 32 bits).
        views[p].freeableBuffers.map { $0 >= 1 << 32 ? $0 & 0xFFFF_FFFF : $0 }
    }

    func writeRead(_ commands: [Command], read: Bool) -> Action {
        var wr = WriteRead(commands: commands, readSize: read ? readSize() : 0)
        if read, rng.percent(4) {
            wr.readConsumed = rng.pick([4, 8, 16])
            wr.readSize = max(wr.readSize, wr.readConsumed + 160)
        }
        return .writeRead(wr)
    }
}
