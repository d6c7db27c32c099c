import BinderUAPI

/// Internal work kinds (`enum binder_work_type`).
enum WorkType: Equatable {
    case transaction, transactionComplete, transactionPending, transactionOnewaySpamSuspect
    case returnError, node, deadBinder, deadBinderAndClear, clearDeathNotification
    case frozenBinder, clearFreezeNotification
}

/// A FIFO work list (`struct list_head` of `binder_work`).
final class WorkList {
    var items: [Work] = []
    var isEmpty: Bool { items.isEmpty }
    /// Counts every change to the list; a woken thread that finds it changed before it ran
    /// could have seen either state (see `BinderModel.resume`).
    var changes = 0
}

/// One work item (`struct binder_work`); on at most one list at a time.
final class Work {
    var type: WorkType
    var list: WorkList?
    var transaction: Transaction?
    var node: Node?
    var death: DeathRecord?
    var freeze: FreezeRecord?
    /// For RETURN_ERROR items (`struct binder_error`): the BR code, BR_OK when unused.
    var errorCmd: UInt32 = BinderReturn.ok.rawValue
    init(_ type: WorkType) { self.type = type }
    var isQueued: Bool { list != nil }
}

/// Mirrors `binder_enqueue_work_ilocked`.
func enqueue(_ w: Work, _ list: WorkList) {
    if w.list != nil { dequeue(w) }  // never happens in the kernel; stay safe
    w.list = list
    list.items.append(w)
    list.changes += 1
}

/// Mirrors `binder_dequeue_work_ilocked` (no-op when not queued).
func dequeue(_ w: Work) {
    guard let l = w.list else { return }
    if let i = l.items.firstIndex(where: { $0 === w }) { l.items.remove(at: i) }
    l.changes += 1
    w.list = nil
}

/// Mirrors `binder_dequeue_work_head_ilocked`.
func dequeueHead(_ list: WorkList) -> Work? {
    guard !list.items.isEmpty else { return nil }
    let w = list.items.removeFirst()
    list.changes += 1
    w.list = nil
    return w
}

/// `struct binder_proc`.
final class Proc {
    let index: ProcessIndex
    let pid: Int32
    /// The binder file `binder_open` made this proc for (fds, the mapping and fixups hold it).
    var file: OpenFile!
    /// The process that opened it exited: its task is gone, so `task_tgid_nr_ns` reports pid
    /// 0 for it as a sender (a passed binder fd can keep the proc alive after that).
    var taskExited = false
    var isDead = false
    var threads: [Thread] = []          // ascending index
    var nodes: [Node] = []              // ascending ptr
    var refs: [Ref] = []                // ascending desc
    let todo = WorkList()
    let deliveredDeath = WorkList()
    let deliveredFreeze = WorkList()
    var maxThreads: UInt32 = 0
    var requestedThreads = 0
    var requestedThreadsStarted = 0
    var isFrozen = false
    var syncRecv = false
    var asyncRecv = false
    var outstandingTxns = 0
    var onewaySpamDetectionEnabled = false
    /// The file was opened with `O_NONBLOCK` (a dup shares the open file description).
    var nonBlocking = true
    /// `proc->waiting_threads`: threads parked in a read waiting for proc work, most recently
    /// parked first (`list_add`).
    var waitingThreads: [Thread] = []
    let alloc = Allocator()
    init(index: ProcessIndex, pid: Int32) { self.index = index; self.pid = pid }

    func node(ptr: UInt64) -> Node? { nodes.first { $0.ptr == ptr } }
    func ref(desc: UInt32) -> Ref? { refs.first { $0.desc == desc } }
    func ref(node: Node) -> Ref? { refs.first { $0.node === node } }
    func insertNode(_ n: Node) {
        let i = nodes.firstIndex { $0.ptr > n.ptr } ?? nodes.count
        nodes.insert(n, at: i)
    }
    func removeNode(_ n: Node) { nodes.removeAll { $0 === n } }
    func insertRef(_ r: Ref) {
        let i = refs.firstIndex { $0.desc > r.desc } ?? refs.count
        refs.insert(r, at: i)
    }
}

/// Looper bits (`BINDER_LOOPER_STATE_*`).
enum Looper {
    static let registered: UInt32 = 0x01
    static let entered: UInt32 = 0x02
    static let exited: UInt32 = 0x04
    static let invalid: UInt32 = 0x08
    static let waiting: UInt32 = 0x10
    static let poll: UInt32 = 0x20
}

/// A call a thread is asleep in.
enum ParkedCall {
    /// `binder_wait_for_work` inside `binder_thread_read`: the state to continue the read with.
    case read(ReadWait)
    /// `poll` waiting on `thread->wait`.
    case poll
    /// `BINDER_FREEZE` with `timeout_ms` waiting on the target's `freeze_wait`.
    case freeze(FreezeWait)
}

/// A `binder_ioctl_freeze` in `wait_event_interruptible_timeout`: its target, `timeout_ms`, and
/// the model time it gives up at.
struct FreezeWait {
    unowned let target: Proc
    /// The ioctl argument (`struct binder_freeze_info`), read again by a restarted call.
    var argument: UInt64
    var timeoutMs: UInt32
    var deadline: UInt64
}

/// What a read parked in `binder_wait_for_work` continues with: the `binder_write_read` copy of
/// `binder_ioctl_write_read`, its user address, the read cursor, and `do_proc_work`.
struct ReadWait {
    var argument: UInt64
    var bwr: BinderWriteRead
    var ptr: UInt64
    var doProcWork: Bool
}

/// Extended error (`struct binder_extended_error`).
struct ExtendedError: Equatable {
    var id: UInt32 = 0
    var command: UInt32 = BinderReturn.ok.rawValue
    var param: Int32 = 0
}

/// `struct binder_thread`.
final class Thread {
    let index: ThreadIndex
    unowned let proc: Proc
    var looper: UInt32 = 0
    var looperNeedReturn = true
    var transactionStack: Transaction?
    let todo = WorkList()
    var processTodo = false
    let returnError = Work(.returnError)
    let replyError = Work(.returnError)
    var extendedError = ExtendedError()
    var isDead = false
    /// The call the thread is asleep in, if any.
    var parked: ParkedCall?
    /// Woken (`wake_up_interruptible(&thread->wait)`) and not yet run.
    var woken = false
    /// A signal arrived while parked; `signalRestarts`: its handler has `SA_RESTART`.
    var signalPending = false
    var signalRestarts = false
    /// `changes` of the lists it reads, when it was woken.
    var changesAtWake = 0
    init(index: ThreadIndex, proc: Proc) { self.index = index; self.proc = proc }
    var isLooper: Bool { looper & (Looper.registered | Looper.entered) != 0 }
}

/// `struct binder_node`.
final class Node {
    let debugID: Int
    var proc: Proc?
    let ptr: UInt64
    let cookie: UInt64
    var minPriority: UInt32 = 0
    var acceptFDs = false
    var txnSecurityCtx = false
    var internalStrongRefs = 0
    var localStrongRefs = 0
    var localWeakRefs = 0
    var tmpRefs = 0
    /// Refs to this node, newest first (`hlist_add_head`).
    var refs: [Ref] = []
    var hasStrongRef = false
    var pendingStrongRef = false
    var hasWeakRef = false
    var pendingWeakRef = false
    var hasAsyncTransaction = false
    let asyncTodo = WorkList()
    let work = Work(.node)
    init(debugID: Int, proc: Proc, ptr: UInt64, cookie: UInt64) {
        self.debugID = debugID; self.proc = proc; self.ptr = ptr; self.cookie = cookie
    }
}

/// `struct binder_ref_death`.
final class DeathRecord {
    let cookie: UInt64
    let work = Work(.deadBinder)
    init(cookie: UInt64) { self.cookie = cookie }
}

/// `struct binder_ref_freeze`.
final class FreezeRecord {
    let cookie: UInt64
    let work = Work(.frozenBinder)
    var isFrozen = false
    var sent = false
    var resend = false
    init(cookie: UInt64) { self.cookie = cookie }
}

/// `struct binder_ref`.
final class Ref {
    let debugID: Int
    unowned let proc: Proc
    let node: Node
    let desc: UInt32
    var strong = 0
    var weak = 0
    var death: DeathRecord?
    var freeze: FreezeRecord?
    init(debugID: Int, proc: Proc, node: Node, desc: UInt32) {
        self.debugID = debugID; self.proc = proc; self.node = node; self.desc = desc
    }
}

/// `struct binder_transaction`.
final class Transaction {
    let debugID: Int
    var from: Thread?
    var fromParent: Transaction?
    var fromPid: Int32 = 0
    var toProc: Proc?
    var toThread: Thread?
    var toParent: Transaction?
    var buffer: Buffer?
    var code: UInt32 = 0
    var flags: UInt32 = 0
    var senderEUID: UInt32 = 0
    var needReply = false
    var securityCtx: UInt64 = 0
    /// Files for the receiver (`fd_fixups`), in translation order.
    var fdFixups: [FdFixup] = []
    let work = Work(.transaction)
    init(debugID: Int) { self.debugID = debugID; work.transaction = self }
}
