#if os(Linux)
import BinderUAPI
import Glibc

/// The child role: one per scenario process. It owns the binder fd, the mapping, the scratch
/// region and one OS thread per scenario thread, and executes the controller's requests one at
/// a time from stdin, answering on stdout.
///
/// ioctls and polls run on the scenario thread's worker. The child waits until the call returns
/// or the worker is seen asleep inside it (a blocking binder read in `binder_wait_for_work`, a
/// blocking poll): then it answers `BinderCall.parked` and the worker stays in the kernel until a
/// later step wakes it; `settle` collects the calls that returned. The child never touches
/// scratch memory on its own, so a parked thread's argument and read buffer stay as the kernel
/// wrote them until the harness reads them.
public enum KernelChild {
    /// Every wait for a worker is bounded by this many seconds.
    static let settleBound = 2.0

    /// A scenario thread: its worker and the system call it is parked in, if any.
    final class Slot {
        let worker = WorkerThread()
        /// The system call number of a started job whose result was not reported yet.
        var pending: Int?
        /// The ioctl command of that job (nil for a poll).
        var command: UInt32?
    }

    /// How a wait for a worker ended.
    enum Settled { case done, asleep, unsettled }

    public static func run(devicePath: String) -> Never {
        guard Syscalls.mapScratch(at: UserMemoryLayout.scratchBase, size: UserMemoryLayout.scratchSize) else {
            fputs("kernel child: cannot map scratch region: errno \(errno)\n", stderr)
            if let maps = KernelBackend.readText("/proc/self/maps") { fputs(maps, stderr) }
            exit(3)
        }
        installSignalHandlers()
        var fd: Int32 = -1
        var mappingBase: UInt64 = 0
        var mappingLength = 0
        var slots: [Int: Slot] = [:]
        let scratch = UnsafeMutableRawPointer(bitPattern: UInt(UserMemoryLayout.scratchBase))!

        func slot(_ thread: Int) -> Slot {
            if let s = slots[thread] { return s }
            let s = Slot()
            slots[thread] = s
            return s
        }

        /// Starts `job` (system call `number`) on `thread`'s worker; its result, or `parked`.
        func call(_ thread: Int, _ number: Int, command: UInt32? = nil, _ job: @escaping () -> Int32) -> Int64 {
            let s = slot(thread)
            guard s.pending == nil else {
                report("thread \(thread) got a call while parked")
                return Int64(-EBUSY)
            }
            s.pending = number
            s.command = command
            s.worker.start(job)
            switch wait(s, thread: thread) {
            case .done:
                s.pending = nil
                return Int64(s.worker.result)
            case .asleep, .unsettled:
                return Int64(BinderCall.parked)
            }
        }

        while true {
            guard let header = Syscalls.readFully(0, ChildRequest.headerSize) else { _exit(0) }
            let op = ChildOp(rawValue: header[0]) ?? .exit
            let thread = Int(header[1])
            let a = header.le64(at: 2), b = header.le64(at: 10)
            let length = Int(header.le32(at: 18))
            let payload = length > 0 ? (Syscalls.readFully(0, length) ?? []) : []
            var reply = ChildReply(result: 0)
            switch op {
            case .open:
                fd = Syscalls.openBinder(devicePath, blocking: a != 0)
                reply.result = fd >= 0 ? 0 : Int64(fd)
            case .mmap:
                let r = Syscalls.mapBinder(fd, length: Int(a), prot: Int32(truncatingIfNeeded: b))
                if r >= 0 { mappingBase = UInt64(r); mappingLength = Int(a) }
                reply.result = r
            case .munmap:
                reply.result = Int64(Syscalls.unmap(mappingBase, length: mappingLength))
                // The range may be reused by the child's own allocations: never read it again.
                if reply.result == 0 { mappingBase = 0; mappingLength = 0 }
            case .close:
                reply.result = Int64(Syscalls.closeFD(fd))
                fd = -1
            case .ioctl:
                let f = fd, command = UInt32(truncatingIfNeeded: a)
                reply.result = call(thread, Syscalls.ioctlNumber, command: command) { Syscalls.ioctl(f, command, b) }
            case .poll:
                let f = fd
                reply.result = call(thread, Syscalls.pollNumber) { Syscalls.pollIn(f, blocking: a != 0) }
            case .signal:
                // A thread that never ran a call has no task to interrupt (nor a binder_thread).
                if let s = slots[thread] {
                    s.worker.kill(a != 0 ? SIGUSR2 : SIGUSR1)
                    if s.pending != nil { _ = wait(s, thread: thread) }
                }
            case .flushDuplicate:
                reply.result = Int64(flushDuplicate(fd, slots))
                reply.payload = [reply.result > 0 ? 1 : 0]
                reply.result = reply.result < 0 ? reply.result : 0
            case .settle:
                for (t, s) in slots.sorted(by: { $0.key < $1.key }) where s.pending != nil {
                    guard wait(s, thread: t) == .done else { continue }
                    s.pending = nil
                    reply.payload.append(UInt8(t))
                    reply.payload.appendLE32(UInt32(bitPattern: s.worker.result))
                    reply.result += 1
                }
            case .writeUser:
                if UserMemoryLayout.contains(a, count: payload.count) {
                    payload.withUnsafeBytes { (scratch + Int(a - UserMemoryLayout.scratchBase)).copyMemory(from: $0.baseAddress!, byteCount: payload.count) }
                }
            case .readUser:
                let count = Int(b)
                if UserMemoryLayout.contains(a, count: count) {
                    reply.payload = Array(UnsafeRawBufferPointer(start: scratch + Int(a - UserMemoryLayout.scratchBase), count: count))
                }
            case .readMapping:
                if mappingBase != 0, let bytes = Syscalls.readOwnMemory(mappingBase &+ a, Int(b)) {
                    reply.payload = bytes
                } else {
                    reply.result = -1
                }
            case .pid:
                reply.result = Int64(getpid())
            case .exit:
                // Scenario exit and shutdown alike: the kernel ends every thread (parked ones are
                // woken by the group exit), then drops the mapping and the files (do_exit).
                _ = Syscalls.writeFully(1, reply.bytes)
                _exit(0)
            }
            guard Syscalls.writeFully(1, reply.bytes) else { _exit(0) }
        }
    }

    /// Waits (bounded) until `slot`'s worker finished its job or sleeps again in the system call
    /// its job makes. With `wokenSince` (a `voluntary_ctxt_switches` count taken while it
    /// slept), a sleeping worker counts only once it went back to sleep after a wakeup.
    ///
    /// Under TCG the guest has one CPU: the child yields it so that the worker (and any kworker)
    /// runs; a wakeup makes the woken task runnable before the waker's system call returns, so a
    /// worker seen sleeping after the step was not woken by it, or woke and slept again.
    static func wait(_ slot: Slot, thread: Int, deadline: Double? = nil, wokenSince: Int? = nil) -> Settled {
        guard let number = slot.pending else { return .done }
        let worker = slot.worker
        let start = HostTools.now()
        let end = deadline ?? start + settleBound
        var rounds = 0
        while true {
            if worker.isDone { return .done }
            // Round 0: the worker was only just made runnable (by `start` or a signal) and has
            // not run yet on a single CPU; yield before reading /proc (a non-blocking call is
            // then usually done).
            if rounds > 0, worker.isAsleep(in: number) {
                if let before = wokenSince, let now = worker.voluntarySwitches(), now == before {
                    // Not woken yet.
                } else {
                    // Asleep in its call and not done (`isAsleep` reads `isDone` last).
                    return .asleep
                }
            }
            // Past the deadline (always after at least one look at /proc).
            if rounds > 0, HostTools.now() >= end {
                if wokenSince == nil {
                    let k = worker.kernelState()
                    let place = k.syscall.map { "asleep in system call \($0)" } ?? "not blocked in a system call"
                    report("thread \(thread) did not settle within \(Int(settleBound)) s (state \(k.state), \(place)); treated as parked")
                }
                return .unsettled
            }
            rounds += 1
            // Yield first (the worker usually needs a few hundred microseconds), then sleep.
            if rounds < 200 { sched_yield() } else { usleep(1000) }
        }
    }

    /// `dup` + `close` of the binder fd (`binder_flush`, deferred to a kworker), then waits until
    /// the flush woke every worker parked in a BINDER_WRITE_READ (`binder_deferred_flush` wakes
    /// the threads waiting in a read, `BINDER_LOOPER_STATE_WAITING`; threads in a poll or in a
    /// BINDER_FREEZE wait are not woken). Returns -errno, 0, or 1 when some parked worker showed
    /// that the flush ran (it returned, or woke and slept again).
    static func flushDuplicate(_ fd: Int32, _ slots: [Int: Slot]) -> Int32 {
        let parked = slots.sorted(by: { $0.key < $1.key }).filter {
            $0.value.pending == Syscalls.ioctlNumber && $0.value.command == BinderIoctl.writeRead.rawValue && !$0.value.worker.isDone
        }
        let before = parked.map { $0.value.worker.voluntarySwitches() }
        let r = Syscalls.closeDuplicate(fd)
        guard r == 0 else { return r }
        let deadline = HostTools.now() + settleBound
        var observed = false
        for ((t, s), switches) in zip(parked, before) {
            switch wait(s, thread: t, deadline: deadline, wokenSince: switches ?? -1) {
            case .done, .asleep: observed = true
            case .unsettled: report("binder_flush did not wake thread \(t) parked in a read within \(Int(settleBound)) s")
            }
        }
        return observed ? 1 : 0
    }

    /// Writes a harness error to stderr (the VM console): `@@ERROR` lines reach the host's report.
    static func report(_ message: String) {
        let step = GuestWatchdog.currentStep().map { " (\($0))" } ?? ""
        fputs("@@ERROR kernel child \(getpid()): \(message)\(step)\n", stderr)
    }

    /// Empty handlers: SIGUSR1 without `SA_RESTART`, SIGUSR2 with it (the `signal` step).
    static func installSignalHandlers() {
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { _ in }
        sigemptyset(&action.sa_mask)
        action.sa_flags = 0
        sigaction(SIGUSR1, &action, nil)
        action.sa_flags = Int32(SA_RESTART)
        sigaction(SIGUSR2, &action, nil)
        // The controller may go away first; a write to its pipe then fails instead of killing us.
        signal(SIGPIPE, SIG_IGN)
    }
}
#endif
