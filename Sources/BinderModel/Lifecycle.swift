import BinderUAPI

extension BinderModel {
    /// Mirrors `binder_open`: a fresh proc for the process.
    public func open(_ process: ProcessIndex, blocking: Bool) -> Int32 {
        call { openProcess(process, blocking: blocking) }
    }

    func openProcess(_ process: ProcessIndex, blocking: Bool) -> Int32 {
        // The fd is reserved before `binder_open` runs (`do_sys_openat2`).
        guard let fd = slots[process].fds.lowestFree() else { return Errno.EMFILE.negated }
        let proc = track(Proc(index: process, pid: pid(of: process)))
        proc.nonBlocking = !blocking
        let file = OpenFile(.binder(proc))
        file.refs = 1
        proc.file = file
        slots[process].fds.install(file, at: fd)
        slots[process].proc = proc
        slots[process].binderFd = fd
        slots[process].vmaPresent = false
        procs.append(proc)
        return 0
    }

    /// Mirrors `binder_mmap` + `binder_alloc_mmap_handler`.
    public func mmap(_ process: ProcessIndex, length: UInt64, prot: UInt32) -> MmapResult {
        call { mapProcess(process, length: length, prot: prot) }
    }

    func mapProcess(_ process: ProcessIndex, length: UInt64, prot: UInt32) -> MmapResult {
        guard let proc = slots[process].proc else { return .failed(.EINVAL) }
        if prot & MmapRules.protWrite != 0 { return .failed(.EPERM) }
        let r = proc.alloc.mmap(length: length)
        if r != 0 { return .failed(Errno(rawValue: -r)) }
        slots[process].vmaPresent = true
        proc.file.refs += 1  // the vma's vm_file
        return .mapped(mmapBase(process))
    }

    /// vma close (`binder_alloc_vma_close`), then the vma's file reference goes (release when
    /// it was the last).
    public func munmap(_ process: ProcessIndex) -> Int32 {
        call { unmapProcess(process) }
    }

    @discardableResult
    func unmapProcess(_ process: ProcessIndex) -> Int32 {
        guard let proc = slots[process].proc, slots[process].vmaPresent else { return 0 }
        slots[process].vmaPresent = false
        proc.alloc.mapped = false
        fput(proc.file)
        return 0
    }

    /// `close(fd)` of the binder fd: `binder_flush`, then `binder_release` when nothing else
    /// (the mapping, a received copy of the fd) holds the file.
    public func close(_ process: ProcessIndex) -> Int32 {
        call { closeProcess(process) }
    }

    @discardableResult
    func closeProcess(_ process: ProcessIndex) -> Int32 {
        if let fd = slots[process].binderFd { closeFile(process, fd) }
        return 0
    }

    /// Mirrors `binder_deferred_flush`: every thread must return from its next read, and the
    /// threads asleep in a read wake up.
    func flush(_ proc: Proc) {
        noteDeferredWork(proc)
        for t in proc.threads {
            t.looperNeedReturn = true
            if t.looper & Looper.waiting != 0 { wakeUp(t) }
        }
    }

    /// `binder_defer_work`: the proc's flush or release runs on the workqueue (here, at once).
    func noteDeferredWork(_ proc: Proc) {
        if !deferredWorkProcs.contains(where: { $0 === proc }) { deferredWorkProcs.append(proc) }
    }

    /// Mirrors `binder_release` → `binder_deferred_release` (run synchronously). The process
    /// may have opened the device again since: its new proc stays.
    func releaseProc(_ proc: Proc) {
        if slots[proc.index].proc === proc { slots[proc.index].proc = nil; slots[proc.index].vmaPresent = false }
        deferredRelease(proc)
    }

    /// Mirrors `binder_deferred_release`.
    func deferredRelease(_ proc: Proc) {
        noteDeferredWork(proc)
        procs.removeAll { $0 === proc }
        if let m = ctxMgrNode, m.proc === proc { ctxMgrNode = nil }
        proc.isDead = true
        proc.isFrozen = false
        proc.syncRecv = false
        proc.asyncRecv = false
        while let t = proc.threads.first { threadRelease(proc, t) }
        while let n = proc.nodes.first {
            n.tmpRefs += 1  // pinned for binder_node_release, which frees or puts it
            proc.nodes.removeFirst()
            nodeRelease(n)
        }
        while let r = proc.refs.first { cleanupRef(r) }
        releaseWork(proc, proc.todo)
        releaseWork(proc, proc.deliveredDeath)
        releaseWork(proc, proc.deliveredFreeze)
        // binder_alloc_deferred_release: every remaining buffer goes away with the proc.
        for b in proc.alloc.blocks where !b.free { b.transaction?.buffer = nil; b.transaction = nil }
    }

    /// Mirrors `binder_node_release`.
    func nodeRelease(_ node: Node) {
        releaseWork(node.proc!, node.asyncTodo)
        dequeue(node.work)
        if node.refs.isEmpty && node.tmpRefs == 1 {
            node.tmpRefs = 0
            node.proc = nil
            return  // binder_free_node
        }
        node.proc = nil
        node.localStrongRefs = 0
        node.localWeakRefs = 0
        deadNodes.append(node)
        for ref in node.refs {
            guard let death = ref.death else { continue }
            death.work.type = .deadBinder
            enqueueProcWork(death.work, ref.proc)
        }
        putNode(node)
    }

    /// Mirrors `binder_thread_release` (BINDER_THREAD_EXIT or proc death).
    func threadRelease(_ proc: Proc, _ thread: Thread) {
        proc.threads.removeAll { $0 === thread }
        var t = thread.transactionStack
        let sendReply = (t?.toThread === thread) ? t : nil
        thread.isDead = true
        while let cur = t {
            if cur.toThread === thread {
                proc.outstandingTxns -= 1
                cur.toProc = nil
                cur.toThread = nil
                if let b = cur.buffer { b.transaction = nil; cur.buffer = nil }
                t = cur.toParent
            } else if cur.from === thread {
                cur.from = nil
                t = cur.fromParent
            } else {
                break  // BUG() in the kernel; unreachable
            }
        }
        if let s = sendReply { sendFailedReply(s, BinderReturn.deadReply.rawValue) }
        releaseWork(proc, thread.todo)
    }

    /// Mirrors `binder_release_work`.
    func releaseWork(_ proc: Proc, _ list: WorkList) {
        while let w = dequeueHead(list) {
            switch w.type {
            case .transaction:
                if let t = w.transaction { cleanupTransaction(t, BinderReturn.deadReply.rawValue) }
            case .deadBinderAndClear, .clearDeathNotification, .clearFreezeNotification:
                break  // record freed
            default:
                break
            }
        }
    }

    /// Mirrors `binder_cleanup_transaction`.
    func cleanupTransaction(_ t: Transaction, _ code: UInt32) {
        if t.buffer?.targetNode != nil && t.flags & TransactionFlags.oneWay == 0 {
            sendFailedReply(t, code)
        } else {
            freeTransaction(t)
        }
    }

    /// Mirrors `binder_free_transaction`.
    func freeTransaction(_ t: Transaction) {
        if let tp = t.toProc {
            tp.outstandingTxns -= 1
            if tp.outstandingTxns == 0 && tp.isFrozen { wakeUpFreezeWaiters(tp) }
            t.buffer?.transaction = nil
        }
        freeFdFixups(t)
    }

    /// Mirrors `binder_pop_transaction_ilocked`.
    func popTransaction(_ thread: Thread, _ t: Transaction) {
        guard thread.transactionStack === t else { return }
        thread.transactionStack = t.fromParent
        t.from = nil
    }

    /// Mirrors `binder_send_failed_reply`.
    func sendFailedReply(_ start: Transaction, _ code: UInt32) {
        var t = start
        while true {
            if let target = t.from {
                popTransaction(target, t)
                if target.replyError.errorCmd == BinderReturn.ok.rawValue {
                    target.replyError.errorCmd = code
                    enqueueThreadWork(target, target.replyError)
                    wakeUp(target)
                }
                freeTransaction(t)
                return
            }
            let next = t.fromParent
            freeTransaction(t)
            guard let n = next else { return }
            t = n
        }
    }

    /// Mirrors `binder_enqueue_thread_work_ilocked`.
    func enqueueThreadWork(_ thread: Thread, _ w: Work) {
        enqueue(w, thread.todo)
        thread.processTodo = true
    }
    /// Mirrors `binder_enqueue_deferred_thread_work_ilocked`.
    func enqueueDeferredThreadWork(_ thread: Thread, _ w: Work) {
        enqueue(w, thread.todo)
    }
}
