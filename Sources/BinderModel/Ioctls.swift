import BinderUAPI

extension BinderModel {
    /// Mirrors `binder_get_thread`: find or lazily create the caller's thread.
    func getThread(_ proc: Proc, _ index: ThreadIndex) -> Thread {
        if let t = proc.threads.first(where: { $0.index == index }) { return t }
        let t = track(Thread(index: index, proc: proc))
        let i = proc.threads.firstIndex { $0.index > index } ?? proc.threads.count
        proc.threads.insert(t, at: i)
        return t
    }

    /// Mirrors `binder_ioctl`.
    public func ioctl(_ process: ProcessIndex, thread threadIndex: ThreadIndex, command: UInt32, argument: UInt64) -> Int32 {
        call { ioctlCall(process, thread: threadIndex, command: command, argument: argument) }
    }

    func ioctlCall(_ process: ProcessIndex, thread threadIndex: ThreadIndex, command: UInt32, argument: UInt64) -> Int32 {
        guard let proc = slots[process].proc, slots[process].fdOpen else { return Errno.EBADF.negated }
        let thread = getThread(proc, threadIndex)
        var ret: Int32 = 0
        switch BinderIoctl(rawValue: command) {
        case .writeRead:
            ret = ioctlWriteRead(proc, thread, argument)
        case .setMaxThreads:
            if let v = getU32(process, argument) { proc.maxThreads = v } else { ret = Errno.EINVAL.negated }
        case .setContextMgrExt:
            if let b = copyFromUser(process, argument, 24) {
                ret = setContextMgr(proc, ptr: b.le64(at: 8), cookie: b.le64(at: 16), flags: b.le32(at: 4))
            } else { ret = Errno.EINVAL.negated }
        case .setContextMgr:
            ret = setContextMgr(proc, ptr: 0, cookie: 0, flags: 0)
        case .threadExit:
            threadRelease(proc, thread)
            return 0
        case .version:
            if !putU32(process, argument, UInt32(BinderIoctl.currentProtocolVersion)) { ret = Errno.EINVAL.negated }
        case .getNodeInfoForRef:
            ret = ioctlNodeInfoForRef(proc, argument)
        case .getNodeDebugInfo:
            if let b = copyFromUser(process, argument, 24) {
                let ptr = b.le64(at: 0)
                var out = [UInt8](repeating: 0, count: 24)
                if let n = proc.nodes.first(where: { $0.ptr > ptr }) {
                    out.putLE64(n.ptr, at: 0); out.putLE64(n.cookie, at: 8)
                    out.putLE32(n.hasStrongRef ? 1 : 0, at: 16); out.putLE32(n.hasWeakRef ? 1 : 0, at: 20)
                }
                if !copyToUser(process, argument, out) { ret = Errno.EFAULT.negated }
            } else { ret = Errno.EFAULT.negated }
        case .freeze:
            ret = ioctlFreeze(argument, caller: thread)
        case .getFrozenInfo:
            ret = ioctlGetFrozenInfo(argument, caller: process)
        case .enableOnewaySpamDetection:
            if let v = getU32(process, argument) { proc.onewaySpamDetectionEnabled = v != 0 } else { ret = Errno.EFAULT.negated }
        case .getExtendedError:
            let ee = thread.extendedError
            thread.extendedError = ExtendedError(id: 0, command: BinderReturn.ok.rawValue, param: 0)
            var b: [UInt8] = []
            b.appendLE32(ee.id); b.appendLE32(ee.command); b.appendLE32(UInt32(bitPattern: ee.param))
            if !copyToUser(process, argument, b) { ret = Errno.EFAULT.negated }
        default:
            ret = Errno.EINVAL.negated
        }
        // At the ioctl's return; a parked call returns later (`BinderModel.complete`).
        if ret != BinderCall.parked { thread.looperNeedReturn = false }
        return ret
    }

    /// Mirrors `binder_ioctl_write_read`.
    func ioctlWriteRead(_ proc: Proc, _ thread: Thread, _ arg: UInt64) -> Int32 {
        let p = proc.index
        guard let raw = copyFromUser(p, arg, UInt64(BinderWriteRead.size)) else { return Errno.EFAULT.negated }
        var bwr = BinderWriteRead(bytes: raw)
        if bwr.writeSize > 0 {
            let r = threadWrite(proc, thread, buffer: bwr.writeBuffer, size: bwr.writeSize, consumed: &bwr.writeConsumed)
            if r < 0 {
                bwr.readConsumed = 0
                return copyToUser(p, arg, bwr.bytes) ? r : Errno.EFAULT.negated
            }
        }
        if bwr.readSize > 0 {
            guard let r = threadRead(proc, thread, argument: arg, bwr: &bwr) else { return BinderCall.parked }
            return finishRead(proc, argument: arg, bwr: bwr, result: r)
        }
        return copyToUser(p, arg, bwr.bytes) ? 0 : Errno.EFAULT.negated
    }

    /// The rest of `binder_ioctl_write_read` once `binder_thread_read` returned `result`: wake a
    /// thread for proc work left behind, and copy the `binder_write_read` back.
    func finishRead(_ proc: Proc, argument: UInt64, bwr: BinderWriteRead, result: Int32) -> Int32 {
        if !proc.todo.isEmpty { wakeUpProc(proc) }
        let copied = copyToUser(proc.index, argument, bwr.bytes)
        if result < 0 { return copied ? result : Errno.EFAULT.negated }
        return copied ? 0 : Errno.EFAULT.negated
    }

    /// Mirrors `binder_ioctl_get_node_info_for_ref` and its copy in/out.
    func ioctlNodeInfoForRef(_ proc: Proc, _ arg: UInt64) -> Int32 {
        guard var b = copyFromUser(proc.index, arg, 24) else { return Errno.EFAULT.negated }
        for o in stride(from: 4, to: 24, by: 4) where b.le32(at: o) != 0 { return Errno.EINVAL.negated }
        guard let m = ctxMgrNode, m.proc === proc else { return Errno.EPERM.negated }
        // binder_get_node_from_ref takes a tmp ref; binder_put_node drops it after reading the counts.
        guard let node = getNodeFromRef(proc, b.le32(at: 0), needStrong: true) else { return Errno.EINVAL.negated }
        b.putLE32(UInt32(truncatingIfNeeded: node.localStrongRefs + node.internalStrongRefs), at: 4)
        b.putLE32(UInt32(truncatingIfNeeded: node.localWeakRefs), at: 8)
        putNode(node)
        return copyToUser(proc.index, arg, b) ? 0 : Errno.EFAULT.negated
    }

    /// Mirrors `binder_txns_pending_ilocked`.
    func txnsPending(_ proc: Proc) -> Bool {
        proc.outstandingTxns > 0 || proc.threads.contains { $0.transactionStack != nil }
    }

    /// BINDER_FREEZE: `binder_ioctl_freeze` for each proc with the pid (at most one here, since
    /// a process has one proc at a time). Returns `BinderCall.parked` when the caller waits for
    /// the target's transactions to drain.
    func ioctlFreeze(_ arg: UInt64, caller: Thread) -> Int32 {
        guard let b = copyFromUser(caller.proc.index, arg, 12) else { return Errno.EFAULT.negated }
        let pid = b.le32(at: 0), enable = b.le32(at: 4), timeoutMs = b.le32(at: 8)
        let targets = procs.filter { UInt32(bitPattern: $0.pid) == pid }
        if targets.isEmpty { return Errno.EINVAL.negated }
        var ret: Int32 = 0
        for tp in targets where ret >= 0 {
            ret = freezeProc(tp, enable: enable, timeoutMs: timeoutMs, caller: caller, argument: arg)
            if ret == BinderCall.parked { break }
        }
        return ret
    }

    /// Mirrors `binder_ioctl_freeze` up to its wait: unfreeze, or freeze and then (with a
    /// timeout and transactions outstanding) park the caller on `freeze_wait`.
    func freezeProc(_ tp: Proc, enable: UInt32, timeoutMs: UInt32, caller: Thread, argument: UInt64) -> Int32 {
        tp.syncRecv = false; tp.asyncRecv = false
        if enable == 0 {
            tp.isFrozen = false
            addFreezeWork(tp, isFrozen: false)
            return 0
        }
        tp.isFrozen = true
        if timeoutMs > 0 && tp.outstandingTxns != 0 {
            park(caller, .freeze(FreezeWait(target: tp, argument: argument, timeoutMs: timeoutMs, deadline: clock + UInt64(timeoutMs))))
            return BinderCall.parked
        }
        return finishFreeze(tp)
    }

    /// The rest of `binder_ioctl_freeze` after its wait returned >= 0: -EAGAIN while
    /// transactions are pending (`binder_txns_pending_ilocked`), else the freeze notices.
    func finishFreeze(_ tp: Proc) -> Int32 {
        if txnsPending(tp) {
            tp.isFrozen = false
            return Errno.EAGAIN.negated
        }
        addFreezeWork(tp, isFrozen: true)
        return 0
    }

    /// Mirrors `binder_add_freeze_work`. Each node is pinned with a tmp ref while its refs are walked;
    /// the previous node's tmp ref is dropped (`binder_put_node`) right after the next node is pinned,
    /// and the last one after the loop, so every node gets the put-time decrement check.
    func addFreezeWork(_ proc: Proc, isFrozen: Bool) {
        var prev: Node? = nil
        for node in Array(proc.nodes) {
            // A node freed by the previous put is no longer in the tree (rb_next walks the live tree).
            guard node.proc === proc, proc.nodes.contains(where: { $0 === node }) else { continue }
            node.tmpRefs += 1
            if let p = prev { putNode(p) }
            prev = node
            for ref in node.refs {
                guard let f = ref.freeze else { continue }
                f.work.type = .frozenBinder
                if !f.work.isQueued {
                    f.isFrozen = isFrozen
                    enqueueProcWork(f.work, ref.proc)
                } else {
                    if f.sent && f.isFrozen != isFrozen { f.resend = true }
                    f.isFrozen = isFrozen
                }
            }
        }
        if let p = prev { putNode(p) }
    }

    /// Mirrors `binder_ioctl_get_freezer_info`.
    func ioctlGetFrozenInfo(_ arg: UInt64, caller: ProcessIndex) -> Int32 {
        guard var b = copyFromUser(caller, arg, 12) else { return Errno.EFAULT.negated }
        let pid = b.le32(at: 0)
        var sync: UInt32 = 0, async: UInt32 = 0, found = false
        for tp in procs where UInt32(bitPattern: tp.pid) == pid {
            found = true
            sync |= (tp.syncRecv ? 1 : 0) | (txnsPending(tp) ? 2 : 0)
            async |= tp.asyncRecv ? 1 : 0
        }
        if !found { return Errno.EINVAL.negated }
        b.putLE32(sync, at: 4); b.putLE32(async, at: 8)
        return copyToUser(caller, arg, b) ? 0 : Errno.EFAULT.negated
    }
}
