import BinderUAPI

/// A call a thread is asleep in.
enum ParkedCall {
    /// `binder_wait_for_work` inside `binder_thread_read`: the state to continue the read with.
    case read(ReadWait)
    /// `poll` waiting on `thread->wait`.
    case poll
    /// `BINDER_FREEZE` with `timeout_ms` waiting on the target's `freeze_wait`.
    case freeze(FreezeWait)
}


/// What a read parked in `binder_wait_for_work` continues with: the `binder_write_read` copy of
/// `binder_ioctl_write_read`, its user address, the read cursor, and `do_proc_work`.
struct ReadWait {
    var argument: UInt64
    var bwr: BinderWriteRead
    var ptr: UInt64
    var doProcWork: Bool
}

/// `proc->waiting_threads`: an intrusive list through `Thread.waitingNext`/`waitingPrev`
/// (`thread->waiting_thread_node`), head = most recently parked. O(1) add, select and removal.
final class WaitingThreads {
    private(set) var first: Thread?
    var isEmpty: Bool { first == nil }

    /// `list_add(&thread->waiting_thread_node, &proc->waiting_threads)`.
    func addHead(_ t: Thread) {
        if t.isOnWaitingList { remove(t) }  // never happens in the kernel; stay consistent
        t.waitingPrev = nil
        t.waitingNext = first
        first?.waitingPrev = t
        first = t
        t.isOnWaitingList = true
    }

    /// `list_del_init(&thread->waiting_thread_node)`: a no-op when the thread is not listed.
    func remove(_ t: Thread) {
        guard t.isOnWaitingList else { return }
        if let p = t.waitingPrev { p.waitingNext = t.waitingNext } else { first = t.waitingNext }
        t.waitingNext?.waitingPrev = t.waitingPrev
        t.waitingNext = nil
        t.waitingPrev = nil
        t.isOnWaitingList = false
    }

    /// `list_first_entry_or_null` + `list_del_init`.
    func removeFirst() -> Thread? {
        guard let t = first else { return nil }
        remove(t)
        return t
    }

    /// Empties the list (`INIT_LIST_HEAD` after the process is gone).
    func removeAll() {
        while let t = first { remove(t) }
    }
}

/// Sleeping and waking: `binder_wait_for_work`, `binder_poll`, the freeze wait, the wakeup
/// helpers, signals, time and process exit.
///
/// A woken thread runs when the call that woke it has returned, in wake order, as in the model.
/// Whether an outcome could depend on the real kernel's scheduling is the model's judgement
/// alone (`BinderModel.lastCallIsSchedulingDependent`); the driver reports the protocol's
/// default, false, and keeps no bookkeeping for it.
extension BinderDriver {
    /// Runs one backend call, its task work (the final `fput`s of deferred fd closes) on the way
    /// back to user space, then the threads it woke (FIFO, including threads woken by them).
    /// Procs released in the call drop their arenas at the end.
    func call<R>(_ body: () -> R) -> R {
        let result = body()
        if !pendingFputs.isEmpty { runTaskWork() }
        var next = 0
        while next < wokenThreads.count {
            let t = wokenThreads[next]
            next += 1
            resume(t)
        }
        wokenThreads.removeAll(keepingCapacity: true)
        if !releasedProcs.isEmpty {
            for p in releasedProcs { p.alloc.arena = [] }
            releasedProcs.removeAll()
        }
        return result
    }

    public func takeCompletions() -> [ThreadCompletion] {
        if completions.isEmpty { return [] }
        defer { completions = [] }
        return completions
    }

    // MARK: work checks

    /// `binder_has_work_ilocked`
    @inline(__always) func hasWork(_ t: Thread, _ doProcWork: Bool) -> Bool {
        t.processTodo || t.looperNeedReturn || (doProcWork && !t.proc.todo.isEmpty)
    }

    /// `binder_available_for_proc_work_ilocked`
    @inline(__always) func isAvailableForProcWork(_ t: Thread) -> Bool {
        t.transactionStack == nil && t.todo.isEmpty
    }

    // MARK: sleeping

    /// `binder_wait_for_work` going to sleep (or `poll` waiting on `thread->wait`). A read
    /// waiting for proc work goes to the head of `proc->waiting_threads` (`list_add`).
    func park(_ t: Thread, _ call: ParkedCall) {
        t.parked = call
        if case .freeze = call, !freezeWaiters.contains(where: { $0 === t }) { freezeWaiters.append(t) }
        guard case let .read(wait) = call else { return }
        t.looper |= Thread.waiting
        if wait.doProcWork { t.proc.waitingThreads.addHead(t) }
    }

    /// A parked call returned `result`. An ioctl clears `looper_need_return` on its way out
    /// (`binder_ioctl`); `poll` does not.
    func complete(_ t: Thread, _ result: Int32, isIoctl: Bool) {
        if case .freeze = t.parked { forgetFreezeWaiter(t) }
        t.parked = nil
        if isIoctl { t.looperNeedReturn = false }
        completions.append(ThreadCompletion(process: t.proc.index, thread: t.index, result: result))
    }

    /// A woken thread runs: `binder_wait_for_work` after `schedule()` (off `waiting_threads`,
    /// the signal check, the work check, maybe back to sleep), or `poll` checking again.
    func resume(_ t: Thread) {
        guard t.woken, let call = t.parked else { return }
        t.woken = false
        let p = t.proc
        switch call {
        case let .read(wait):
            p.waitingThreads.remove(t)
            if t.signalPending {
                t.signalPending = false
                t.looper &= ~Thread.waiting
                complete(t, finishRead(p, wait.argument, wait.bwr, -Errno.EINTR.rawValue), isIoctl: true)
                return
            }
            guard hasWork(t, wait.doProcWork) else {
                if wait.doProcWork { p.waitingThreads.addHead(t) }
                return
            }
            t.looper &= ~Thread.waiting
            t.parked = nil
            var bwr = wait.bwr
            guard let r = readWork(p, t, wait.argument, &bwr, from: wait.ptr, afterWait: wait.doProcWork) else { return }
            complete(t, finishRead(p, wait.argument, bwr, r), isIoctl: true)
        case .poll:
            // `do_poll` checks the fds before it looks for a pending signal.
            let signalled = t.signalPending
            t.signalPending = false
            if pollReady(t) {
                complete(t, BinderCall.pollIn, isIoctl: false)
            } else if signalled {
                complete(t, -Errno.EINTR.rawValue, isIoctl: false)
            }
        case let .freeze(wait):
            resumeFreeze(t, wait)
        }
    }

    // MARK: waking

    /// `wake_up_interruptible(&thread->wait)` (or its sync form): a thread parked in a read or
    /// a poll will run. (A freeze waits on another queue.)
    @inline(__always) func wakeUp(_ t: Thread) {
        switch t.parked {
        case .read, .poll: markWoken(t)
        case .freeze, nil: break
        }
    }

    /// The parked thread will run once the current call returns.
    func markWoken(_ t: Thread) {
        guard t.parked != nil, !t.woken else { return }
        t.woken = true
        wokenThreads.append(t)
    }

    /// `binder_select_thread_ilocked`: the head of `waiting_threads`, taken off it.
    @inline(__always) func selectThread(_ p: Proc) -> Thread? {
        #if BINDER_MUTANTS
        if Mutant.active == .selectOldestWaiter, var t = p.waitingThreads.first {
            while let next = t.waitingNext { t = next }
            p.waitingThreads.remove(t)
            return t
        }
        #endif
        return p.waitingThreads.removeFirst()
    }

    /// `binder_wakeup_thread_ilocked`: the selected thread, or else every polling thread.
    @inline(__always) func wakeUp(_ p: Proc, _ t: Thread?) {
        if let t { wakeUp(t) } else { wakeUpPollThreads(p) }
    }

    /// `binder_wakeup_poll_threads_ilocked`: threads with `BINDER_LOOPER_STATE_POLL` that are
    /// available for proc work, in `proc->threads` (ascending thread index) order.
    func wakeUpPollThreads(_ p: Proc) {
        #if BINDER_MUTANTS
        if Mutant.active == .noPollWakeup { return }
        #endif
        for t in p.pollThreads where isAvailableForProcWork(t) { wakeUp(t) }
    }

    /// `binder_wakeup_proc_ilocked`
    @inline(__always) func wakeUpProc(_ p: Proc) {
        wakeUp(p, selectThread(p))
    }

    /// `binder_enqueue_work_ilocked(w, &proc->todo)` followed by `binder_wakeup_proc_ilocked`.
    func enqueueProcWork(_ w: Work, _ p: Proc) {
        p.todo.append(w)
        wakeUpProc(p)
    }

    // MARK: poll

    /// `binder_poll`: marks the thread as polling and reports whether it has work.
    func pollReady(_ t: Thread) -> Bool {
        if t.looper & Thread.poll == 0 {
            t.looper |= Thread.poll
            let p = t.proc
            // Only a thread still in `proc->threads` is walked by the poll wakeup.
            if p.threads[t.index] === t {
                var i = p.pollThreads.count
                while i > 0 && p.pollThreads[i - 1].index > t.index { i -= 1 }
                p.pollThreads.insert(t, at: i)
            }
        }
        return hasWork(t, isAvailableForProcWork(t))
    }

    /// Drops a released thread from the poll wakeup list (`binder_thread_release` erases it
    /// from `proc->threads`).
    func forgetPollThread(_ p: Proc, _ t: Thread) {
        guard t.looper & Thread.poll != 0, let i = p.pollThreads.firstIndex(where: { $0 === t }) else { return }
        p.pollThreads.remove(at: i)
    }

    /// `poll(fd, POLLIN, blocking ? -1 : 0)` by `thread` (`binder_poll` through `binder_get_thread`).
    public func poll(_ process: ProcessIndex, thread: ThreadIndex, blocking: Bool) -> Int32 {
        call {
            guard procs.indices.contains(process), let p = procs[process].proc, procs[process].fdOpen else {
                return -Errno.EBADF.rawValue
            }
            let t = getThread(p, thread)
            if pollReady(t) { return BinderCall.pollIn }
            guard blocking else { return 0 }
            park(t, .poll)
            return BinderCall.parked
        }
    }

    // MARK: signals, flush, exit

    /// A signal to a parked thread: it wakes with `signal_pending`. `binder_wait_for_work` and
    /// `poll` return -EINTR whether or not the handler has `SA_RESTART` (neither restarts); the
    /// freeze wait returns -ERESTARTSYS (see `resumeFreeze`).
    public func signal(_ process: ProcessIndex, thread: ThreadIndex, restart: Bool) {
        call {
            guard procs.indices.contains(process), let p = procs[process].proc,
                  let t = p.threads[thread], t.parked != nil else { return }
            t.signalPending = true
            t.signalRestarts = restart
            markWoken(t)
        }
    }

    /// `binder_deferred_flush`: every thread must return from its next read, and the threads
    /// asleep in a read (`BINDER_LOOPER_STATE_WAITING`) wake up, in `proc->threads` order.
    func flush(_ p: Proc) {
        for k in p.threads.keys.sorted() {
            guard let t = p.threads[k] else { continue }
            t.looperNeedReturn = true
            #if BINDER_MUTANTS
            if Mutant.active == .flushWakesNobody { continue }
            #endif
            if t.looper & Thread.waiting != 0 { wakeUp(t) }
        }
    }

    /// `dup` of the binder fd (it needs a free fd below the limit, else -EMFILE), then `close`
    /// of the copy: `binder_flush` alone.
    public func flushDuplicate(_ process: ProcessIndex) -> Int32 {
        guard procs.indices.contains(process) else { return -Errno.EBADF.rawValue }
        return call {
            let sp = procs[process]
            guard sp.fds.lowestFree() != nil else { return -Errno.EMFILE.rawValue }
            if let p = sp.proc, sp.fdOpen { flush(p) }
            return 0
        }
    }

    /// Process exit: every parked thread is interrupted for good (nothing it does is visible:
    /// the process is gone), then `exit_mm` drops the mapping and `exit_files` closes every fd
    /// in increasing order (a received binder fd flushes, and maybe releases, its proc).
    public func exit(_ process: ProcessIndex) {
        guard procs.indices.contains(process) else { return }
        call {
            for p in procs[process].openProcs { p.taskExited = true }
            if let p = procs[process].proc {
                for k in p.threads.keys.sorted() {
                    guard let t = p.threads[k], t.parked != nil else { continue }
                    // A killed freeze still finishes: its wait checks the condition before the
                    // signal (`binder_ioctl_freeze`).
                    if case let .freeze(w) = t.parked {
                        if w.target.outstandingTxns == 0 { _ = finishFreeze(w.target) } else { w.target.isFrozen = false }
                        forgetFreezeWaiter(t)
                    }
                    t.parked = nil; t.woken = false; t.signalPending = false
                    t.looper &= ~Thread.waiting
                    t.looperNeedReturn = false
                }
                p.waitingThreads.removeAll()
                wokenThreads.removeAll { $0.proc === p }
            }
            unmapProcess(process)
            exitFiles(process)
        }
    }
}
