import BinderUAPI

/// A `binder_ioctl_freeze` in `wait_event_interruptible_timeout`: its target, `timeout_ms`, and
/// the driver time it gives up at.
struct FreezeWait {
    let target: Proc
    /// The ioctl argument (`struct binder_freeze_info`), read again by a restarted call.
    var argument: UInt64
    var timeoutMs: UInt32
    var deadline: UInt64
}

/// The freeze wait: `BINDER_FREEZE` with `timeout_ms` sleeping in
/// `wait_event_interruptible_timeout(target_proc->freeze_wait, !outstanding_txns, timeout)`,
/// woken by `binder_free_transaction` (`wake_up_interruptible_all`), a signal, or its timeout on
/// the driver clock (`sleep`). See Blocking.swift for the parking machinery.
extension BinderDriver {
    /// `binder_ioctl_freeze` up to its wait: unfreeze, or freeze and then (with a timeout and
    /// transactions outstanding) park the caller on `freeze_wait`
    /// (`wait_event_interruptible_timeout`).
    func freezeProc(_ tp: Proc, enable: UInt32, timeoutMs: UInt32, caller: Thread, argument: UInt64) -> Int32 {
        tp.syncRecv = false; tp.asyncRecv = false
        if enable == 0 {
            tp.isFrozen = false
            addFreezeWork(tp, false)
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
    /// transactions are pending (`binder_txns_pending_ilocked`), else `binder_add_freeze_work`.
    func finishFreeze(_ tp: Proc) -> Int32 {
        if txnsPending(tp) {
            tp.isFrozen = false
            return -Errno.EAGAIN.rawValue
        }
        addFreezeWork(tp, true)
        return 0
    }

    /// `wait_event_interruptible_timeout` in `binder_ioctl_freeze` returning: the condition
    /// (no outstanding transactions) first, then a signal (-ERESTARTSYS: the freeze is undone,
    /// and with `SA_RESTART` the ioctl runs again from the start), then the timeout.
    func resumeFreeze(_ t: Thread, _ wait: FreezeWait) {
        let tp = wait.target
        let drained = tp.outstandingTxns == 0
        if !drained && t.signalPending {
            t.signalPending = false
            tp.isFrozen = false
            guard t.signalRestarts else {
                complete(t, -Errno.EINTR.rawValue, isIoctl: true)
                return
            }
            forgetFreezeWaiter(t)
            t.parked = nil
            let r = ioctlCall(t.proc.index, thread: t.index, command: BinderIoctl.freeze.rawValue, argument: wait.argument)
            if r != BinderCall.parked { complete(t, r, isIoctl: true) }
            return
        }
        t.signalPending = false
        guard drained || clock >= wait.deadline else { return }
        complete(t, finishFreeze(tp), isIoctl: true)
    }

    /// The threads parked in a freeze wait of live procs, by process and thread index (the
    /// order of a walk over the procs and their `threads`). Drops stale entries.
    func freezeWaiterThreads() -> [Thread] {
        freezeWaiters.removeAll { t in
            guard case .freeze = t.parked, !t.proc.isDead, t.proc.threads[t.index] === t else { return true }
            return false
        }
        freezeWaiters.sort { $0.proc.index != $1.proc.index ? $0.proc.index < $1.proc.index : $0.index < $1.index }
        return freezeWaiters
    }

    func forgetFreezeWaiter(_ t: Thread) {
        if let i = freezeWaiters.firstIndex(where: { $0 === t }) { freezeWaiters.remove(at: i) }
    }

    /// `wake_up_interruptible_all(&proc->freeze_wait)` (`binder_free_transaction`).
    func wakeUpFreezeWaiters(_ target: Proc) {
        for t in freezeWaiterThreads() {
            if case let .freeze(w) = t.parked, w.target === target { markWoken(t) }
        }
    }

    /// Time passes: freezes past their timeout wake up.
    public func sleep(milliseconds: UInt32) {
        call {
            clock += UInt64(milliseconds)
            guard !freezeWaiters.isEmpty else { return }
            for t in freezeWaiterThreads() {
                if case let .freeze(w) = t.parked, w.deadline <= clock { markWoken(t) }
            }
        }
    }
}
