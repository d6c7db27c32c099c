#if os(Linux)
import Glibc

/// One OS thread that runs jobs handed to it one at a time, so that each scenario thread's
/// ioctls come from its own kernel task (binder keys `binder_thread` by pid).
///
/// A job is either run synchronously (`run`) or started (`start`) and observed (`isDone`,
/// `result`): a job that went to sleep in the kernel (a blocking binder read or poll) may stay
/// there for many steps while the controller keeps using the process's other threads.
final class WorkerThread {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let cond = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var job: (() -> Int32)?
    private var finished = true
    private var value: Int32 = 0
    private var started = false
    /// The pthread, for `pthread_kill`.
    private(set) var thread = pthread_t()
    /// The kernel task id (`gettid`), for /proc/self/task/<tid>.
    private(set) var tid: Int32 = 0
    /// /proc/self/task/<tid>/{stat,syscall,status}, opened once when the thread is created
    /// (before any step runs on it) at harness fd numbers (`Syscalls.firstHarnessFd` and up):
    /// observing the thread opens nothing, so it can neither take an fd number a binder read
    /// is about to install nor fail at the scenario's fd limit.
    private var statFd: Int32 = -1, syscallFd: Int32 = -1, statusFd: Int32 = -1

    init() {
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(cond, nil)
        let context = Unmanaged.passRetained(self).toOpaque()
        pthread_create(&thread, nil, { raw in
            let worker = Unmanaged<WorkerThread>.fromOpaque(raw!).takeRetainedValue()
            worker.loop()
            return nil
        }, context)
        // Wait for the thread to record its tid.
        pthread_mutex_lock(mutex)
        while !started { pthread_cond_wait(cond, mutex) }
        pthread_mutex_unlock(mutex)
        let task = "/proc/self/task/\(tid)"
        statFd = Syscalls.openHarnessFile("\(task)/stat")
        syscallFd = Syscalls.openHarnessFile("\(task)/syscall")
        statusFd = Syscalls.openHarnessFile("\(task)/status")
    }

    private func loop() {
        let me = Syscalls.gettid()
        pthread_mutex_lock(mutex)
        tid = me
        started = true
        pthread_cond_broadcast(cond)
        while true {
            while job == nil { pthread_cond_wait(cond, mutex) }
            let j = job!
            pthread_mutex_unlock(mutex)
            let r = j()
            pthread_mutex_lock(mutex)
            job = nil
            value = r
            finished = true
            pthread_cond_broadcast(cond)
        }
    }

    /// Hands `body` to the thread and returns at once. Precondition: the previous job is done.
    func start(_ body: @escaping () -> Int32) {
        pthread_mutex_lock(mutex)
        finished = false
        job = body
        pthread_cond_broadcast(cond)
        pthread_mutex_unlock(mutex)
    }

    /// True when the last job started has returned (or none was ever started).
    var isDone: Bool {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return finished
    }

    /// The last finished job's result.
    var result: Int32 {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return value
    }

    /// Runs `body` on this thread and waits for it.
    func run(_ body: @escaping () -> Int32) -> Int32 {
        start(body)
        pthread_mutex_lock(mutex)
        while !finished { pthread_cond_wait(cond, mutex) }
        let r = value
        pthread_mutex_unlock(mutex)
        return r
    }

    /// Sends `signal` to the thread.
    func kill(_ signal: Int32) { _ = pthread_kill(thread, signal) }

    // MARK: - Observing the thread in the kernel

    /// Where the thread is, as /proc/self/task/<tid> shows it.
    struct KernelState {
        /// The state letter of `stat` ('R', 'S', 'D', ...).
        var state: Character
        /// The system call it is blocked in (`syscall`'s first field); nil when it is running.
        var syscall: Int?
    }

    /// Reads the thread's blocked system call, then its state. `syscall` shows a number only
    /// for a task that stayed off the CPU in the same state while the kernel collected it
    /// (`task_current_syscall`); `stat` is a second read, so the two may see different moments.
    func kernelState() -> KernelState {
        KernelState(state: statState(), syscall: blockedSyscall())
    }

    private func blockedSyscall() -> Int? {
        guard let text = Syscalls.readProcFile(syscallFd),
              let first = text.split(whereSeparator: { $0 == " " || $0 == "\n" }).first else { return nil }
        return Int(first)
    }

    private func statState() -> Character {
        guard let stat = Syscalls.readProcFile(statFd), let close = stat.lastIndex(of: ")") else { return "?" }
        return stat[stat.index(after: close)...].drop { $0 == " " }.first ?? "?"
    }

    /// True when the thread sleeps interruptibly inside system call `number` (for a binder
    /// read: in `binder_wait_for_work`; for a poll: in `do_poll`) and has not finished its job.
    ///
    /// The reads are not atomic: a thread seen blocked in the ioctl, but uninterruptibly (e.g.
    /// `synchronize_rcu` in `binder_thread_release` of a thread that polled), may return and
    /// sleep in the futex of `pthread_cond_wait` before `stat` is read. So the system call is read
    /// on both sides of the state, and `isDone` last (the worker records its result before it
    /// sleeps in the futex; the only sleep in system call `number` is inside the job's call).
    func isAsleep(in number: Int) -> Bool {
        guard blockedSyscall() == number, statState() == "S", blockedSyscall() == number else { return false }
        return !isDone
    }

    /// `voluntary_ctxt_switches` of /proc/self/task/<tid>/status: grows each time the thread
    /// goes to sleep, so a thread seen asleep twice with the same count never woke between.
    func voluntarySwitches() -> Int? {
        guard let text = Syscalls.readProcFile(statusFd) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("voluntary_ctxt_switches:") {
            return Int(line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == ":" }).last ?? "")
        }
        return nil
    }
}
#endif
