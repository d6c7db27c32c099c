import BinderUAPI

/// Kinds of `struct binder_work` (binder_internal.h, `enum binder_work_type`).
enum WorkKind {
    case transaction, complete, pending, spamSuspect, returnError, node
    case deadBinder, deadBinderAndClear, clearDeath, frozenBinder, clearFreeze
}

/// An intrusive work item (`struct binder_work`): subclasses embed it like the kernel structs do.
class Work {
    var kind: WorkKind
    weak var list: WorkList?
    var prev: Work?
    var next: Work?
    init(_ k: WorkKind) { kind = k }
    /// `list_empty(&w->entry)`
    var isQueued: Bool { list != nil }
}

/// A FIFO of work items with O(1) append, pop and removal (`struct list_head` work lists).
final class WorkList {
    var head: Work?
    weak var tail: Work?
    var isEmpty: Bool { head == nil }
    /// `binder_enqueue_work_ilocked`
    func append(_ w: Work) {
        w.list = self; w.next = nil; w.prev = tail
        if let t = tail { t.next = w } else { head = w }
        tail = w
    }
    /// `binder_dequeue_work_head_ilocked`
    func popHead() -> Work? {
        guard let h = head else { return nil }
        remove(h)
        return h
    }
    func remove(_ w: Work) {
        if let p = w.prev { p.next = w.next } else { head = w.next }
        if let n = w.next { n.prev = w.prev } else { tail = w.prev }
        w.prev = nil; w.next = nil; w.list = nil
    }
}

/// `binder_dequeue_work_ilocked`: remove from whatever list holds it.
@inline(__always) func dequeueWork(_ w: Work) { w.list?.remove(w) }

/// `struct binder_error`: the reusable return-error work item of a thread.
final class ErrorSlot: Work {
    var cmd: UInt32 = BinderReturn.ok.rawValue
    init() { super.init(.returnError) }
}

/// `struct binder_ref_death`
final class Death: Work {
    var cookie: UInt64
    init(cookie: UInt64) { self.cookie = cookie; super.init(.deadBinder) }
}

/// `struct binder_ref_freeze`
final class Freeze: Work {
    var cookie: UInt64
    var isFrozen = false
    var sent = false
    var resend = false
    init(cookie: UInt64) { self.cookie = cookie; super.init(.frozenBinder) }
}

/// `struct binder_node` (its `work` member is the object itself).
final class Node: Work {
    let debugID: Int
    var proc: Proc?
    let ptr: UInt64
    let cookie: UInt64
    let minPriority: UInt32
    let acceptFDs: Bool
    let txnSecurityCtx: Bool
    var internalStrongRefs = 0
    var localStrongRefs = 0
    var localWeakRefs = 0
    var tmpRefs = 0
    /// refs to this node; the kernel iterates newest-first (hlist_add_head), so iterate reversed.
    var refs: [Ref] = []
    var hasStrongRef = false, pendingStrongRef = false, hasWeakRef = false, pendingWeakRef = false
    var hasAsyncTransaction = false
    let asyncTodo = WorkList()
    init(id: Int, proc: Proc, ptr: UInt64, cookie: UInt64, flags: UInt32) {
        debugID = id; self.proc = proc; self.ptr = ptr; self.cookie = cookie
        minPriority = flags & FlatBinderFlags.priorityMask
        acceptFDs = flags & FlatBinderFlags.acceptsFDs != 0
        txnSecurityCtx = flags & FlatBinderFlags.txnSecurityCtx != 0
        super.init(.node)
    }
}

/// `struct binder_ref`
final class Ref {
    let debugID: Int
    let desc: UInt32
    let proc: Proc
    var node: Node
    var strong = 0
    var weak = 0
    var death: Death?
    var freeze: Freeze?
    init(id: Int, desc: UInt32, proc: Proc, node: Node) { debugID = id; self.desc = desc; self.proc = proc; self.node = node }
}

/// `struct binder_transaction`
final class Transaction: Work {
    var debugID = 0
    var from: Thread?
    var fromParent: Transaction?
    var toParent: Transaction?
    var toProc: Proc?
    var toThread: Thread?
    /// The buffer (block index in `bufProc.alloc`), or -1.
    var buffer: Int32 = -1
    var bufProc: Proc?
    var code: UInt32 = 0
    var flags: UInt32 = 0
    var securityCtx: UInt64 = 0
    /// `fd_fixups`: files for the receiver, in translation order (applied when it reads).
    var fdFixups: [FdFixup] = []
    init() { super.init(.transaction) }
}

/// Completion work items (`tcomplete`).
final class SimpleWork: Work {}

/// `struct binder_thread`
final class Thread {
    let index: Int
    let proc: Proc
    var looper: UInt32 = 0
    var looperNeedReturn = true
    var transactionStack: Transaction?
    let todo = WorkList()
    var processTodo = false
    let returnError = ErrorSlot()
    let replyError = ErrorSlot()
    var eeID: UInt32 = 0
    var eeCommand: UInt32 = BinderReturn.ok.rawValue
    var eeParam: Int32 = 0
    var isDead = false
    /// The call the thread is asleep in, if any (see Blocking.swift).
    var parked: ParkedCall?
    /// Woken (`wake_up_interruptible(&thread->wait)`) and not yet run.
    var woken = false
    /// A signal arrived while parked; `signalRestarts`: its handler has `SA_RESTART`.
    var signalPending = false
    var signalRestarts = false
    /// `thread->waiting_thread_node`: links in `proc->waiting_threads` (`WaitingThreads`).
    var waitingNext: Thread?
    var waitingPrev: Thread?
    var isOnWaitingList = false
    init(index: Int, proc: Proc) { self.index = index; self.proc = proc }
    static let registered: UInt32 = 0x01, entered: UInt32 = 0x02, exited: UInt32 = 0x04, invalid: UInt32 = 0x08
    static let waiting: UInt32 = 0x10, poll: UInt32 = 0x20
    var isLooper: Bool { looper & (Thread.registered | Thread.entered) != 0 }
}

/// `struct binder_proc`
final class Proc {
    let index: Int
    let pid: Int32
    /// Its process exited (`task_tgid_nr_ns` of a reaped task is 0).
    var taskExited = false
    var threads: [Int: Thread] = [:]
    var nodes: [UInt64: Node] = [:]
    var refsByDesc: [UInt32: Ref] = [:]
    var refsByNode: [ObjectIdentifier: Ref] = [:]
    /// descriptor bitmap (`dbitmap`): bit set = handle in use.
    var descBits: [UInt64] = [0]
    let todo = WorkList()
    let deliveredDeath = WorkList()
    let deliveredFreeze = WorkList()
    var maxThreads: UInt32 = 0
    var requestedThreads = 0
    var requestedThreadsStarted = 0
    var isDead = false
    var isFrozen = false
    var syncRecv = false
    var asyncRecv = false
    var outstandingTxns = 0
    var spamDetection = false
    /// The file was opened with `O_NONBLOCK` (a dup shares the open file description).
    var nonBlocking = true
    /// `proc->waiting_threads`: threads parked in a read waiting for proc work, most recently
    /// parked first (`list_add`).
    let waitingThreads = WaitingThreads()
    /// The threads of `threads` with `BINDER_LOOPER_STATE_POLL`, in ascending thread index (the
    /// `proc->threads` rb-tree order `binder_wakeup_poll_threads_ilocked` walks). The bit is never
    /// cleared, so this only grows until a thread is released.
    var pollThreads: [Thread] = []
    let alloc = Allocator()
    var mapBase: UInt64 = 0
    /// The binder file `binder_open` made for this proc (fds, the mapping and fixups hold it).
    var file: OpenFile?
    init(index: Int, pid: Int32) { self.index = index; self.pid = pid }

    /// `dbitmap_acquire_next_zero_bit`: lowest clear bit >= offset, set it.
    func acquireDesc(offset: UInt32) -> UInt32 {
        var w = Int(offset / 64)
        while true {
            if w >= descBits.count { descBits.append(0) }
            var word = ~descBits[w]
            if w == Int(offset / 64) { word &= ~UInt64(0) << UInt64(offset % 64) }
            if word != 0 {
                let bit = word.trailingZeroBitCount
                descBits[w] |= UInt64(1) << UInt64(bit)
                return UInt32(w * 64 + bit)
            }
            w += 1
        }
    }
    func releaseDesc(_ d: UInt32) {
        let w = Int(d / 64)
        if w < descBits.count { descBits[w] &= ~(UInt64(1) << UInt64(d % 64)) }
    }
}
