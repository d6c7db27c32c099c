import BinderUAPI

/// The executable specification of the Linux 6.12 Binder driver (one binder device).
public final class BinderModel: BinderBackend {
    public var backendName: String { "model" }

    /// Per logical process: scratch user memory, fd/mapping state, current proc.
    struct Slot {
        var user: [UInt8]
        /// The fd table; `binderFd` is where the current proc's binder file is.
        var fds = FdTable()
        var binderFd: Int32?
        var fdOpen: Bool { binderFd != nil }
        var vmaPresent = false
        var proc: Proc?
    }
    var slots: [Slot]
    /// `binder_last_id`.
    var lastID = 0
    /// Context state (`struct binder_context`).
    var ctxMgrNode: Node?
    var ctxMgrUID: UInt32?
    /// Global proc list (`binder_procs`), in open order.
    var procs: [Proc] = []
    /// Nodes whose owner died but are still referenced (`binder_dead_nodes`).
    var deadNodes: [Node] = []
    var copiedBytesCounter: UInt64 = 0
    /// Files created so far (`newFile`): the next one's index.
    var filesCreated = 0
    /// Final `fput`s of files an ioctl closed (`binder_deferred_fd_close`), done when it returns.
    var deferredFputs: [OpenFile] = []
    /// Parked threads woken during the current call, in wake order; they run when it ends.
    var wokenThreads: [Thread] = []
    /// Parked threads that returned, not yet taken by the harness.
    var completions: [ThreadCompletion] = []
    /// Threads that went back to sleep on `waiting_threads` after a wakeup in the current call.
    var reparkedThreads: [Thread] = []
    /// Threads that went to sleep in the current call, in order (the caller's own call first),
    /// and threads it woke (whether they have run yet or not).
    var parkedThisCall: [Thread] = []
    var wokenThisCall: [Thread] = []
    var callIsSchedulingDependent = false
    /// Freeze waits that returned in the current call, and woken threads that ran in it.
    var freezesFinished = 0
    /// Procs flushed or released during the current call (`binder_defer_work`).
    var deferredWorkProcs: [Proc] = []
    var threadsRun = 0
    /// Model time in milliseconds: only `sleep` advances it.
    var clock: UInt64 = 0
    /// A parked freeze this close to its timeout may already have timed out on a real kernel,
    /// where steps take time: any call then is marked scheduling-dependent.
    static let timeoutMargin: UInt64 = 2000
    /// A freeze left waiting with less than this to go after a call may time out on a real kernel
    /// before the call's step has ended.
    static let shortestTrustedTimeout: UInt64 = 1000
    public var copiedBytes: UInt64 { copiedBytesCounter }
    /// Every process runs with euid 0.
    let euid: UInt32 = 0
    /// Every object this model allocated, kept until `deinit` breaks their cycles (see Teardown.swift).
    var allocated: [any CycleBreaking] = []

    public init(processCount: Int) {
        slots = Array(repeating: Slot(user: [UInt8](repeating: 0, count: UserMemoryLayout.scratchSize)), count: processCount)
    }

    deinit { breakAllCycles() }

    public func pid(of process: ProcessIndex) -> Int32 { Int32(100 + process) }

    /// Deterministic fake mmap base of a process.
    func mmapBase(_ p: ProcessIndex) -> UInt64 { 0x7000_0000_0000 + UInt64(p) << 32 }
    func base(of proc: Proc) -> UInt64 { mmapBase(proc.index) }

    func nextID() -> Int { lastID += 1; return lastID }

    // MARK: user memory

    public func writeUser(_ process: ProcessIndex, address: UInt64, bytes: [UInt8]) {
        guard UserMemoryLayout.contains(address, count: bytes.count) else { return }
        let o = Int(address - UserMemoryLayout.scratchBase)
        for (k, v) in bytes.enumerated() { slots[process].user[o + k] = v }
    }

    public func readUser(_ process: ProcessIndex, address: UInt64, count: Int) -> [UInt8] {
        guard UserMemoryLayout.contains(address, count: count) else { return [] }
        let o = Int(address - UserMemoryLayout.scratchBase)
        return Array(slots[process].user[o..<(o + count)])
    }

    /// `copy_from_user`: nil on fault.
    func copyFromUser(_ p: ProcessIndex, _ address: UInt64, _ count: UInt64) -> [UInt8]? {
        guard count <= UInt64(UserMemoryLayout.scratchSize), UserMemoryLayout.contains(address, count: Int(count)) else { return nil }
        return readUser(p, address: address, count: Int(count))
    }
    /// `copy_to_user`: false on fault.
    func copyToUser(_ p: ProcessIndex, _ address: UInt64, _ bytes: [UInt8]) -> Bool {
        guard UserMemoryLayout.contains(address, count: bytes.count) else { return false }
        writeUser(p, address: address, bytes: bytes)
        return true
    }
    func getU32(_ p: ProcessIndex, _ a: UInt64) -> UInt32? { copyFromUser(p, a, 4).map { $0.le32(at: 0) } }
    func getU64(_ p: ProcessIndex, _ a: UInt64) -> UInt64? { copyFromUser(p, a, 8).map { $0.le64(at: 0) } }
    func putU32(_ p: ProcessIndex, _ a: UInt64, _ v: UInt32) -> Bool { var b: [UInt8] = []; b.appendLE32(v); return copyToUser(p, a, b) }

    public func readMapping(_ process: ProcessIndex, offset: UInt64, count: Int) -> [UInt8]? {
        guard count >= 0, slots[process].vmaPresent, let proc = slots[process].proc else { return nil }
        let (end, o) = offset.addingReportingOverflow(UInt64(count))
        guard !o, end <= proc.alloc.bufferSize else { return nil }
        return proc.alloc.read(at: offset, count: count)
    }
}
