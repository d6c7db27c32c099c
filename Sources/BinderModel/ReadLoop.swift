import BinderUAPI

extension BinderModel {
    /// Mirrors `binder_has_work_ilocked`.
    func hasWork(_ thread: Thread, _ doProcWork: Bool) -> Bool {
        thread.processTodo || thread.looperNeedReturn || (doProcWork && !thread.proc.todo.isEmpty)
    }

    /// Mirrors `binder_available_for_proc_work_ilocked`.
    func isAvailableForProcWork(_ thread: Thread) -> Bool {
        thread.transactionStack == nil && thread.todo.isEmpty
    }

    /// Mirrors `binder_thread_read` from its start (BR_NOOP when `read_consumed` is 0). Returns
    /// 0 or -errno with `bwr.readConsumed` updated, or nil when the thread parked in
    /// `binder_wait_for_work` (a blocking file with no work).
    func threadRead(_ proc: Proc, _ thread: Thread, argument: UInt64, bwr: inout BinderWriteRead) -> Int32? {
        var ptr = bwr.readBuffer &+ bwr.readConsumed
        if bwr.readConsumed == 0 {
            if !putU32(proc.index, ptr, BinderReturn.noop.rawValue) { return Errno.EFAULT.negated }
            ptr &+= 4
        }
        return readWork(proc, thread, argument: argument, bwr: &bwr, from: ptr, afterWait: nil)
    }

    /// `binder_thread_read` from its `retry:` label at cursor `start`. `afterWait` is the
    /// `wait_for_proc_work` of a `binder_wait_for_work` that just returned 0 (the read goes
    /// straight to its work loop); nil starts at `retry:`.
    func readWork(_ proc: Proc, _ thread: Thread, argument: UInt64, bwr: inout BinderWriteRead, from start: UInt64,
                  afterWait: Bool?) -> Int32? {
        let p = proc.index
        let buffer = bwr.readBuffer
        var ptr = start
        let end = buffer &+ bwr.readSize
        func put32(_ v: UInt32) -> Bool { if putU32(p, ptr, v) { ptr &+= 4; return true }; return false }
        func put64(_ v: UInt64) -> Bool { var b: [UInt8] = []; b.appendLE64(v); if copyToUser(p, ptr, b) { ptr &+= 8; return true }; return false }
        var resumedWith = afterWait
        var retries = 0
        // The kernel's `ret`: a failed `binder_apply_fd_fixups` leaves it at -ENOMEM, and node
        // work read after that in the same call skips its commands and returns it.
        var ret: Int32 = 0
        retry: while true {
            let waitForProcWork: Bool
            if let w = resumedWith {
                waitForProcWork = w
                resumedWith = nil
            } else {
                waitForProcWork = isAvailableForProcWork(thread)
                if !hasWork(thread, waitForProcWork) {
                    if proc.nonBlocking { return Errno.EAGAIN.negated }
                    park(thread, .read(ReadWait(argument: argument, bwr: bwr, ptr: ptr, doProcWork: waitForProcWork)))
                    return nil
                }
                // A blocking wait with work returns 0 at once; a non-blocking read keeps `ret`.
                if proc.nonBlocking, ret != 0 { return ret }
                ret = 0
                retries += 1
                if retries > 2 { return Errno.EAGAIN.negated }  // the kernel would spin; never reached in practice
            }
            loop: while true {
                let list: WorkList
                if !thread.todo.isEmpty { list = thread.todo }
                else if waitForProcWork && !proc.todo.isEmpty { list = proc.todo }
                else {
                    if ptr &- buffer == 4 && !thread.looperNeedReturn { continue retry }
                    break retry
                }
                if end &- ptr < UInt64(StructLayout.readRoomPerItem) { break retry }
                guard let w = dequeueHead(list) else { break retry }
                if thread.todo.isEmpty { thread.processTodo = false }
                switch w.type {
                case .transaction:
                    guard let t = w.transaction else { continue loop }
                    let r = deliverTransaction(proc, thread, t, &ptr)
                    if r < 0 { return r }
                    ret = r == 2 ? Errno.ENOMEM.negated : 0
                    if r >= 1 { continue loop }
                    break retry
                case .returnError:
                    let cmd = w.errorCmd
                    if !put32(cmd) { return Errno.EFAULT.negated }
                    w.errorCmd = BinderReturn.ok.rawValue
                case .transactionComplete, .transactionPending, .transactionOnewaySpamSuspect:
                    let cmd: BinderReturn = (proc.onewaySpamDetectionEnabled && w.type == .transactionOnewaySpamSuspect) ? .onewaySpamSuspect
                        : w.type == .transactionPending ? .transactionPendingFrozen : .transactionComplete
                    if !put32(cmd.rawValue) { return Errno.EFAULT.negated }
                case .node:
                    guard let node = w.node else { continue loop }
                    ret = nodeWork(proc, node, ret, put32, put64)
                    if ret != 0 { return ret }
                case .deadBinder, .deadBinderAndClear, .clearDeathNotification:
                    guard let d = w.death else { continue loop }
                    let isClear = w.type == .clearDeathNotification
                    if !isClear { enqueue(w, proc.deliveredDeath) }
                    let cmd = isClear ? BinderReturn.clearDeathNotificationDone : BinderReturn.deadBinder
                    if !put32(cmd.rawValue) || !put64(d.cookie) { return Errno.EFAULT.negated }
                    if !isClear { break retry }
                case .frozenBinder:
                    guard let f = w.freeze else { continue loop }
                    f.sent = true
                    enqueue(w, proc.deliveredFreeze)
                    if !put32(BinderReturn.frozenBinder.rawValue) { return Errno.EFAULT.negated }
                    var info: [UInt8] = []
                    info.appendLE64(f.cookie); info.appendLE32(f.isFrozen ? 1 : 0); info.appendLE32(0)
                    if !copyToUser(p, ptr, info) { return Errno.EFAULT.negated }
                    ptr &+= 16
                    break retry
                case .clearFreezeNotification:
                    guard let f = w.freeze else { continue loop }
                    if !put32(BinderReturn.clearFreezeNotificationDone.rawValue) || !put64(f.cookie) { return Errno.EFAULT.negated }
                }
            }
        }
        bwr.readConsumed = ptr &- buffer
        // Another thread of the process woken in this call may run before this one on a real
        // kernel, or after it: it may take the BR_SPAWN_LOOPER, or leave or rejoin
        // `waiting_threads`, first (seen on 6.12: a flush woke a reader and a looper, and the
        // looper got BR_SPAWN_LOOPER only when the reader had left `waiting_threads`).
        if proc.requestedThreads == 0, thread.isLooper, wokenThisCall.contains(where: { $0.proc === proc && $0 !== thread }) {
            callIsSchedulingDependent = true
        }
        if proc.requestedThreads == 0 && proc.waitingThreads.isEmpty
            && UInt32(clamping: proc.requestedThreadsStarted) < proc.maxThreads && thread.isLooper {
            proc.requestedThreads += 1
            if !putU32(p, buffer, BinderReturn.spawnLooper.rawValue) { return Errno.EFAULT.negated }
        }
        return 0
    }

    /// The BINDER_WORK_NODE case of `binder_thread_read`, entered with the read's `ret`: each
    /// command after the first is written only while `ret` is 0 (`binder_put_node_cmd` gives 0
    /// or -EFAULT). Returns the new `ret`; the read returns it when it is not 0.
    func nodeWork(_ proc: Proc, _ node: Node, _ retIn: Int32, _ put32: (UInt32) -> Bool, _ put64: (UInt64) -> Bool) -> Int32 {
        let strong = node.internalStrongRefs > 0 || node.localStrongRefs > 0
        let weak = !node.refs.isEmpty || node.localWeakRefs > 0 || node.tmpRefs > 0 || strong
        let hs = node.hasStrongRef, hw = node.hasWeakRef
        if weak && !hw { node.hasWeakRef = true; node.pendingWeakRef = true; node.localWeakRefs += 1 }
        if strong && !hs { node.hasStrongRef = true; node.pendingStrongRef = true; node.localStrongRefs += 1 }
        if !strong && hs { node.hasStrongRef = false }
        if !weak && hw { node.hasWeakRef = false }
        if !weak && !strong { proc.removeNode(node) }
        func emit(_ c: BinderReturn) -> Int32 { put32(c.rawValue) && put64(node.ptr) && put64(node.cookie) ? 0 : Errno.EFAULT.negated }
        var ret = retIn
        if weak && !hw { ret = emit(.increfs) }
        if ret == 0 && strong && !hs { ret = emit(.acquire) }
        if ret == 0 && !strong && hs { ret = emit(.release) }
        if ret == 0 && !weak && hw { ret = emit(.decrefs) }
        return ret
    }

    /// The BINDER_WORK_TRANSACTION case. Returns -EFAULT, 0 (stop reading), 1 (continue) or 2
    /// (continue after a failed fd fixup, which leaves the read's `ret` at -ENOMEM).
    /// When the receiver cannot take the transaction's fds, the transaction fails and its buffer
    /// is freed: a call's sender gets BR_FAILED_REPLY, a reply's reader gets it here, and a
    /// one-way call is dropped.
    func deliverTransaction(_ proc: Proc, _ thread: Thread, _ t: Transaction, _ ptr: inout UInt64) -> Int32 {
        guard let b = t.buffer else { return 1 }
        var cmd: UInt32
        var tr = TransactionData()
        if let n = b.targetNode {
            tr.target = n.ptr; tr.cookie = n.cookie; cmd = BinderReturn.transaction.rawValue
        } else {
            cmd = BinderReturn.reply.rawValue
        }
        tr.code = t.code
        tr.flags = t.flags
        tr.senderEUID = t.senderEUID
        tr.senderPID = t.from.map { $0.proc.taskExited ? 0 : $0.proc.pid } ?? 0
        if !applyFdFixups(proc, t) {
            b.transaction = nil
            cleanupTransaction(t, BinderReturn.failedReply.rawValue)
            freeBuf(proc, b, isFailure: true, thread: thread)
            guard cmd == BinderReturn.reply.rawValue else { return 2 }
            if !putU32(proc.index, ptr, BinderReturn.failedReply.rawValue) { return Errno.EFAULT.negated }
            ptr &+= 4
            return 0
        }
        tr.dataSize = b.dataSize
        tr.offsetsSize = b.offsetsSize
        tr.buffer = base(of: proc) &+ b.start
        tr.offsets = tr.buffer &+ ((b.dataSize &+ 7) & ~7)
        var bytes = tr.bytes
        if t.securityCtx != 0 { cmd = BinderReturn.transactionSecCtx.rawValue; bytes.appendLE64(t.securityCtx) }
        if !putU32(proc.index, ptr, cmd) { cleanupTransaction(t, BinderReturn.failedReply.rawValue); return Errno.EFAULT.negated }
        ptr &+= 4
        if !copyToUser(proc.index, ptr, bytes) { cleanupTransaction(t, BinderReturn.failedReply.rawValue); return Errno.EFAULT.negated }
        ptr &+= UInt64(bytes.count)
        b.allowUserFree = true
        if cmd != BinderReturn.reply.rawValue && t.flags & TransactionFlags.oneWay == 0 {
            t.toParent = thread.transactionStack
            t.toThread = thread
            thread.transactionStack = t
        } else {
            freeTransaction(t)
        }
        return 0
    }
}
