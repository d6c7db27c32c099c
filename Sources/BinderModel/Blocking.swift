import BinderUAPI

/// Sleeping and waking: `binder_wait_for_work`, `binder_poll`, the freeze wait, the wakeup
/// helpers, signals, time and process exit.
///
/// A woken thread runs when the call that woke it has returned, in wake order; what it does
/// may wake others, who run after it. In the kernel it may run earlier: a call is marked
/// scheduling-dependent (`lastCallIsSchedulingDependent`) when that could change an outcome:
/// the woken thread's work lists changed between its wakeup and its run, the waker went on with
/// more commands, or two threads of one process went back to sleep on `waiting_threads` (their
/// order there depends on who ran first), two freezes of one call finished, a finishing freeze
/// queued work while other woken threads ran in the same call, or a waiting freeze was within
/// `timeoutMargin` of its timeout before a call, or within `shortestTrustedTimeout` after it
/// (a real kernel's steps take time).
extension BinderModel {
    /// Runs one backend call, then the threads it woke.
    func call<R>(timed: Bool = true, _ body: () -> R) -> R {
        callIsSchedulingDependent = false
        reparkedThreads = []
        parkedThisCall = []
        wokenThisCall = []
        freezesFinished = 0
        threadsRun = 0
        deferredWorkProcs = []
        if timed, freezeWaiters().contains(where: { $0.deadline < clock + Self.timeoutMargin }) {
            callIsSchedulingDependent = true
        }
        let result = body()
        let parkedByCall = parkedThisCall
        // Task work on the way back to user space: deferred fd closes finish.
        while !deferredFputs.isEmpty { fput(deferredFputs.removeFirst()) }
        // The kernel runs flushes and releases on a workqueue, newest proc first
        // (`binder_defer_work` adds at the head of `binder_deferred_list`), and a thread one of
        // them wakes may run before the next: with two procs and a woken thread, the order the
        // model runs them in is one of several (seen on 6.12: an exit that closed a received
        // binder fd flushed its owner before releasing its own proc).
        if deferredWorkProcs.count >= 2, !wokenThreads.isEmpty { callIsSchedulingDependent = true }
        while !wokenThreads.isEmpty { resume(wokenThreads.removeFirst()) }
        // A thread this call woke woke the caller, which had parked: on a kernel the woken
        // thread may run first, and the caller then finds the work without sleeping (seen on
        // 6.12: a receiver out of fds fails the call before its sender parks).
        if parkedByCall.contains(where: { $0.parked == nil }) { callIsSchedulingDependent = true }
        if freezeWaiters().contains(where: { $0.deadline < clock + Self.shortestTrustedTimeout }) {
            callIsSchedulingDependent = true
        }
        return result
    }

    public var lastCallIsSchedulingDependent: Bool { callIsSchedulingDependent }

    public func takeCompletions() -> [ThreadCompletion] {
        defer { completions = [] }
        return completions
    }

    // MARK: sleeping

    /// `binder_wait_for_work` going to sleep (or `poll` waiting on `thread->wait`). A read
    /// waiting for proc work goes to the head of `proc->waiting_threads` (`list_add`).
    func park(_ thread: Thread, _ call: ParkedCall) {
        thread.parked = call
        parkedThisCall.append(thread)
        guard case let .read(wait) = call else { return }
        thread.looper |= Looper.waiting
        if wait.doProcWork { thread.proc.waitingThreads.insert(thread, at: 0) }
    }

    /// A parked call returned `result`. An ioctl clears `looper_need_return` on its way out
    /// (`binder_ioctl`); `poll` does not.
    func complete(_ thread: Thread, _ result: Int32, isIoctl: Bool) {
        thread.parked = nil
        if isIoctl { thread.looperNeedReturn = false }
        completions.append(ThreadCompletion(process: thread.proc.index, thread: thread.index, result: result))
    }

    /// A woken thread runs: `binder_wait_for_work` after `schedule()` (off `waiting_threads`,
    /// the signal check, the work check, maybe back to sleep), or `poll` checking again.
    func resume(_ thread: Thread) {
        guard thread.woken, let call = thread.parked else { return }
        thread.woken = false
        threadsRun += 1
        let proc = thread.proc
        if thread.todo.changes &+ proc.todo.changes != thread.changesAtWake { callIsSchedulingDependent = true }
        switch call {
        case let .read(wait):
            proc.waitingThreads.removeAll { $0 === thread }
            if thread.signalPending {
                thread.signalPending = false
                thread.looper &= ~Looper.waiting
                complete(thread, finishRead(proc, argument: wait.argument, bwr: wait.bwr, result: Errno.EINTR.negated), isIoctl: true)
                return
            }
            guard hasWork(thread, wait.doProcWork) else {
                if wait.doProcWork { proc.waitingThreads.insert(thread, at: 0) }
                noteReparked(thread)
                return
            }
            thread.looper &= ~Looper.waiting
            thread.parked = nil
            var bwr = wait.bwr
            guard let r = readWork(proc, thread, argument: wait.argument, bwr: &bwr, from: wait.ptr, afterWait: wait.doProcWork) else {
                noteReparked(thread)
                return
            }
            complete(thread, finishRead(proc, argument: wait.argument, bwr: bwr, result: r), isIoctl: true)
        case .poll:
            // `do_poll` checks the fds before it looks for a pending signal.
            let signalled = thread.signalPending
            thread.signalPending = false
            if pollReady(thread) {
                complete(thread, BinderCall.pollIn, isIoctl: false)
            } else if signalled {
                complete(thread, Errno.EINTR.negated, isIoctl: false)
            }
        case let .freeze(wait):
            resumeFreeze(thread, wait)
        }
    }

    /// `wait_event_interruptible_timeout` in `binder_ioctl_freeze` returning: the condition
    /// (no outstanding transactions) first, then a signal (-ERESTARTSYS: the freeze is undone,
    /// and with `SA_RESTART` the ioctl runs again from the start), then the timeout.
    private func resumeFreeze(_ thread: Thread, _ wait: FreezeWait) {
        let tp = wait.target
        let drained = tp.outstandingTxns == 0
        if !drained && thread.signalPending {
            thread.signalPending = false
            tp.isFrozen = false
            guard thread.signalRestarts else {
                complete(thread, Errno.EINTR.negated, isIoctl: true)
                return
            }
            thread.parked = nil
            let r = ioctlCall(thread.proc.index, thread: thread.index, command: BinderIoctl.freeze.rawValue, argument: wait.argument)
            if r != BinderCall.parked { complete(thread, r, isIoctl: true) }
            return
        }
        thread.signalPending = false
        guard drained || clock >= wait.deadline else { return }
        complete(thread, finishFreezeWait(tp, othersRun: threadsRun > 1 || !wokenThreads.isEmpty), isIoctl: true)
    }

    /// `finishFreeze` at the end of a freeze wait. Its freeze notices (and node work re-queued by
    /// its tmp-ref puts) may come before or after what other threads woken in the same call do.
    func finishFreezeWait(_ tp: Proc, othersRun: Bool) -> Int32 {
        freezesFinished += 1
        if freezesFinished > 1 { callIsSchedulingDependent = true }
        let before = procs.reduce(0) { $0 &+ $1.todo.changes }
        let r = finishFreeze(tp)
        if othersRun, procs.reduce(0, { $0 &+ $1.todo.changes }) != before { callIsSchedulingDependent = true }
        return r
    }

    /// Threads waiting in a freeze, by process and thread index.
    func freezeWaiters() -> [FreezeWait] {
        procs.sorted { $0.index < $1.index }.flatMap { p in
            p.threads.compactMap { t -> FreezeWait? in
                if case let .freeze(w) = t.parked { return w }
                return nil
            }
        }
    }

    /// `wake_up_interruptible_all(&proc->freeze_wait)` (`binder_free_transaction`).
    func wakeUpFreezeWaiters(_ target: Proc) {
        for p in procs.sorted(by: { $0.index < $1.index }) {
            for t in p.threads {
                if case let .freeze(w) = t.parked, w.target === target { markWoken(t) }
            }
        }
    }

    /// Time passes: freezes past their timeout wake up. A freeze left within `timeoutMargin`
    /// of its timeout could time out on a real kernel before the next step.
    public func sleep(milliseconds: UInt32) {
        call(timed: false) {
            clock += UInt64(milliseconds)
            for p in procs.sorted(by: { $0.index < $1.index }) {
                for t in p.threads {
                    guard case let .freeze(w) = t.parked else { continue }
                    if w.deadline <= clock { markWoken(t) } else if w.deadline < clock + Self.timeoutMargin { callIsSchedulingDependent = true }
                }
            }
        }
    }

    private func noteReparked(_ thread: Thread) {
        guard case .read = thread.parked else { return }
        if reparkedThreads.contains(where: { $0.proc === thread.proc && $0 !== thread }) { callIsSchedulingDependent = true }
        reparkedThreads.append(thread)
    }

    // MARK: waking

    /// `wake_up_interruptible(&thread->wait)` (or its sync form): a thread parked in a read or
    /// a poll will run. (A freeze waits on another queue.)
    func wakeUp(_ thread: Thread) {
        switch thread.parked {
        case .read, .poll: markWoken(thread)
        case .freeze, nil: break
        }
    }

    /// The parked thread will run once the current call returns.
    func markWoken(_ thread: Thread) {
        guard thread.parked != nil, !thread.woken else { return }
        thread.woken = true
        wokenThisCall.append(thread)
        thread.changesAtWake = thread.todo.changes &+ thread.proc.todo.changes
        wokenThreads.append(thread)
    }

    /// Mirrors `binder_select_thread_ilocked`: the head of `waiting_threads`, taken off it.
    func selectThread(_ proc: Proc) -> Thread? {
        proc.waitingThreads.isEmpty ? nil : proc.waitingThreads.removeFirst()
    }

    /// Mirrors `binder_wakeup_thread_ilocked`: the selected thread, or else every polling thread.
    func wakeUp(_ proc: Proc, _ thread: Thread?) {
        if let thread { wakeUp(thread) } else { wakeUpPollThreads(proc) }
    }

    /// Mirrors `binder_wakeup_poll_threads_ilocked`.
    func wakeUpPollThreads(_ proc: Proc) {
        for t in proc.threads where t.looper & Looper.poll != 0 && isAvailableForProcWork(t) { wakeUp(t) }
    }

    /// Mirrors `binder_wakeup_proc_ilocked`.
    func wakeUpProc(_ proc: Proc) {
        wakeUp(proc, selectThread(proc))
    }

    /// `binder_enqueue_work_ilocked(w, &proc->todo)` followed by `binder_wakeup_proc_ilocked`.
    func enqueueProcWork(_ w: Work, _ proc: Proc) {
        enqueue(w, proc.todo)
        wakeUpProc(proc)
    }

    // MARK: poll

    /// Mirrors `binder_poll`: marks the thread as polling and reports whether it has work.
    func pollReady(_ thread: Thread) -> Bool {
        thread.looper |= Looper.poll
        return hasWork(thread, isAvailableForProcWork(thread))
    }

    /// `poll(fd, POLLIN, blocking ? -1 : 0)` by `thread` (`binder_poll` through `binder_get_thread`).
    public func poll(_ process: ProcessIndex, thread threadIndex: ThreadIndex, blocking: Bool) -> Int32 {
        call {
            guard let proc = slots[process].proc, slots[process].fdOpen else { return Errno.EBADF.negated }
            let thread = getThread(proc, threadIndex)
            if pollReady(thread) { return BinderCall.pollIn }
            guard blocking else { return 0 }
            park(thread, .poll)
            return BinderCall.parked
        }
    }

    // MARK: signals, flush, exit

    /// A signal to a parked thread: it wakes with `signal_pending`. `binder_wait_for_work` and
    /// `poll` return -EINTR whether or not the handler has `SA_RESTART` (neither restarts); the
    /// freeze wait returns -ERESTARTSYS (see `resumeFreeze`).
    public func signal(_ process: ProcessIndex, thread threadIndex: ThreadIndex, restart: Bool) {
        call {
            guard let proc = slots[process].proc,
                  let thread = proc.threads.first(where: { $0.index == threadIndex }), thread.parked != nil else { return }
            thread.signalPending = true
            thread.signalRestarts = restart
            markWoken(thread)
        }
    }

    /// `close` of a duplicate fd: `binder_flush` alone.
    public func flushDuplicate(_ process: ProcessIndex) -> Int32 {
        call {
            // `dup` needs a free fd below the limit; the close of the copy flushes.
            guard slots[process].fds.lowestFree() != nil else { return Errno.EMFILE.negated }
            if let proc = slots[process].proc, slots[process].fdOpen { flush(proc) }
            return 0
        }
    }

    /// Process exit: every parked thread is interrupted for good (nothing it does is visible:
    /// the process is gone), then `exit_mm` drops the mapping and `exit_files` the fd.
    public func exit(_ process: ProcessIndex) {
        call {
            if let proc = slots[process].proc {
                for t in proc.threads where t.parked != nil {
                    // A killed freeze still finishes: its wait checks the condition before the
                    // signal, so it completes the freeze when nothing is outstanding and undoes
                    // it otherwise (`ret < 0` in binder_ioctl_freeze).
                    if case let .freeze(w) = t.parked {
                        if w.target.outstandingTxns == 0 { _ = finishFreezeWait(w.target, othersRun: true) } else { w.target.isFrozen = false }
                    }
                    t.parked = nil; t.woken = false; t.signalPending = false
                    t.looper &= ~Looper.waiting
                    t.looperNeedReturn = false
                }
                proc.waitingThreads = []
                wokenThreads.removeAll { $0.proc === proc }
            }
            for p in procs where p.index == process { p.taskExited = true }
            unmapProcess(process)
            exitFiles(process)
        }
    }
}
