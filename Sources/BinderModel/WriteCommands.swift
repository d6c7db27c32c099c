import BinderUAPI

extension BinderModel {
    /// Mirrors `binder_thread_write`. `consumed` is updated after each fully handled command.
    func threadWrite(_ proc: Proc, _ thread: Thread, buffer: UInt64, size: UInt64, consumed: inout UInt64) -> Int32 {
        let p = proc.index
        var ptr = buffer &+ consumed
        let end = buffer &+ size
        let ok = BinderReturn.ok.rawValue
        while ptr < end && thread.returnError.errorCmd == ok {
            guard let cmd = getU32(p, ptr) else { return Errno.EFAULT.negated }
            ptr &+= 4
            // A thread woken by an earlier command of this batch may already be running.
            if !wokenThreads.isEmpty { callIsSchedulingDependent = true }
            switch BinderCommand(rawValue: cmd) {
            case .increfs, .acquire, .release, .decrefs:
                guard let target = getU32(p, ptr) else { return Errno.EFAULT.negated }
                ptr &+= 4
                let c = BinderCommand(rawValue: cmd)
                let strong = c == .acquire || c == .release
                let increment = c == .increfs || c == .acquire
                var ret: Int32 = -1
                if increment && target == 0, let m = ctxMgrNode {
                    if m.proc === proc { return Errno.EINVAL.negated }
                    ret = incRefForNode(proc, m, strong: strong, targetThread: nil).0
                }
                if ret != 0 { _ = updateRefForHandle(proc, target, increment: increment, strong: strong) }
            case .increfsDone, .acquireDone:
                guard let nodePtr = getU64(p, ptr) else { return Errno.EFAULT.negated }
                ptr &+= 8
                guard let cookie = getU64(p, ptr) else { return Errno.EFAULT.negated }
                ptr &+= 8
                // binder_get_node takes a tmp ref; every exit drops it with binder_put_node, which
                // re-runs the weak decrement check (may re-enqueue the node work).
                guard let node = getNode(proc, ptr: nodePtr) else { break }
                if node.cookie != cookie { putNode(node); break }
                if BinderCommand(rawValue: cmd) == .acquireDone {
                    if !node.pendingStrongRef { putNode(node); break }
                    node.pendingStrongRef = false
                } else {
                    if !node.pendingWeakRef { putNode(node); break }
                    node.pendingWeakRef = false
                }
                decNode(node, strong: BinderCommand(rawValue: cmd) == .acquireDone, internal: false)
                putNode(node)
            case .attemptAcquire, .acquireResult:
                return Errno.EINVAL.negated
            case .freeBuffer:
                guard let dataPtr = getU64(p, ptr) else { return Errno.EFAULT.negated }
                ptr &+= 8
                guard let b = proc.alloc.allocated(at: dataPtr &- base(of: proc)), proc.alloc.bufferSize != 0, b.allowUserFree else { break }
                b.allowUserFree = false
                freeBuf(proc, b, isFailure: false, thread: thread)
            case .transactionSG, .replySG:
                guard let bytes = copyFromUser(p, ptr, 72) else { return Errno.EFAULT.negated }
                ptr &+= 72
                binderTransaction(proc, thread, TransactionData(bytes: bytes), reply: BinderCommand(rawValue: cmd) == .replySG, extra: bytes.le64(at: 64))
            case .transaction, .reply:
                guard let bytes = copyFromUser(p, ptr, 64) else { return Errno.EFAULT.negated }
                ptr &+= 64
                binderTransaction(proc, thread, TransactionData(bytes: bytes), reply: BinderCommand(rawValue: cmd) == .reply, extra: 0)
            case .registerLooper:
                if thread.looper & Looper.entered != 0 {
                    thread.looper |= Looper.invalid
                } else if proc.requestedThreads == 0 {
                    thread.looper |= Looper.invalid
                } else {
                    proc.requestedThreads -= 1
                    proc.requestedThreadsStarted += 1
                }
                thread.looper |= Looper.registered
            case .enterLooper:
                if thread.looper & Looper.registered != 0 { thread.looper |= Looper.invalid }
                thread.looper |= Looper.entered
            case .exitLooper:
                thread.looper |= Looper.exited
            case .requestDeathNotification, .clearDeathNotification:
                guard let target = getU32(p, ptr) else { return Errno.EFAULT.negated }
                ptr &+= 4
                guard let cookie = getU64(p, ptr) else { return Errno.EFAULT.negated }
                ptr &+= 8
                deathCommand(proc, thread, request: BinderCommand(rawValue: cmd) == .requestDeathNotification, handle: target, cookie: cookie)
            case .deadBinderDone:
                guard let cookie = getU64(p, ptr) else { return Errno.EFAULT.negated }
                ptr &+= 8
                guard let w = proc.deliveredDeath.items.first(where: { $0.death?.cookie == cookie }) else { break }
                dequeue(w)
                if w.type == .deadBinderAndClear {
                    w.type = .clearDeathNotification
                    if thread.isLooper { enqueueThreadWork(thread, w) } else { enqueueProcWork(w, proc) }
                }
            case .requestFreezeNotification, .clearFreezeNotification:
                guard let bytes = copyFromUser(p, ptr, 12) else { return Errno.EFAULT.negated }
                ptr &+= 12
                let r = freezeCommand(proc, request: BinderCommand(rawValue: cmd) == .requestFreezeNotification,
                                      handle: bytes.le32(at: 0), cookie: UInt64(bytes.le32(at: 4)) | UInt64(bytes.le32(at: 8)) << 32)
                if r != 0 { return r }
            case .freezeNotificationDone:
                guard let cookie = getU64(p, ptr) else { return Errno.EFAULT.negated }
                ptr &+= 8
                guard let w = proc.deliveredFreeze.items.first(where: { $0.freeze?.cookie == cookie }), let f = w.freeze else {
                    return Errno.EINVAL.negated
                }
                dequeue(w)
                f.sent = false
                if f.resend { f.resend = false; enqueueProcWork(w, proc) }
            default:
                return Errno.EINVAL.negated
            }
            consumed = ptr &- buffer
        }
        return 0
    }

    /// BC_REQUEST/CLEAR_DEATH_NOTIFICATION handling in `binder_thread_write`.
    func deathCommand(_ proc: Proc, _ thread: Thread, request: Bool, handle: UInt32, cookie: UInt64) {
        guard let ref = lookupRef(proc, handle, needStrong: false) else { return }
        if request {
            if ref.death != nil { return }
            let d = track(DeathRecord(cookie: cookie))
            d.work.death = d
            ref.death = d
            if ref.node.proc == nil {
                d.work.type = .deadBinder
                enqueueProcWork(d.work, proc)
            }
        } else {
            guard let d = ref.death, d.cookie == cookie else { return }
            ref.death = nil
            if !d.work.isQueued {
                d.work.type = .clearDeathNotification
                if thread.isLooper { enqueueThreadWork(thread, d.work) } else { enqueueProcWork(d.work, proc) }
            } else {
                d.work.type = .deadBinderAndClear
            }
        }
    }

    /// Mirrors `binder_request_freeze_notification` / `binder_clear_freeze_notification`.
    func freezeCommand(_ proc: Proc, request: Bool, handle: UInt32, cookie: UInt64) -> Int32 {
        guard let ref = lookupRef(proc, handle, needStrong: false) else { return Errno.EINVAL.negated }
        if request {
            if ref.freeze != nil { return Errno.EINVAL.negated }
            let f = track(FreezeRecord(cookie: cookie))
            f.work.freeze = f
            ref.freeze = f
            if let owner = ref.node.proc {
                f.isFrozen = owner.isFrozen
                enqueueProcWork(f.work, proc)
            }
            return 0
        }
        guard let f = ref.freeze, f.cookie == cookie else { return Errno.EINVAL.negated }
        ref.freeze = nil
        f.work.type = .clearFreezeNotification
        if !f.work.isQueued { enqueueProcWork(f.work, proc) } else if f.sent { f.resend = true }
        return 0
    }
}
