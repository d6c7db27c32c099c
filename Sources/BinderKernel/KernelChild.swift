#if os(Linux)
import BinderHarness
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
        let worker: WorkerThread
        init(_ worker: WorkerThread) { self.worker = worker }
        /// The system call number of a started job whose result was not reported yet.
        var pending: Int?
        /// The ioctl command of that job (nil for a poll).
        var command: UInt32?
    }

    /// How a wait for a worker ended.
    enum Settled { case done, asleep, unsettled }

    public static func run(devicePath: String) -> Never {
        // The model's fd table: a scenario process starts with exactly fds 0 to 2; the binder
        // open, `newFile` and the fds the driver installs take the lowest free numbers.
        // Everything the harness keeps open lives at `Syscalls.firstHarnessFd` and above, opened
        // here before any step runs: the two pipes to the controller (arriving as fds 0 and 1)
        // and a copy of the console (fd 2) move there, and fds 0 and 1 become /dev/null, so that
        // a scenario that closes or passes fds 0 to 2 cannot touch the harness's channels.
        Syscalls.closeAll(from: 3)
        // Room for the harness fds above 1000 while they are opened; the scenario's processes
        // then start at the model's soft limit (`FdRules.maxLimit`).
        Syscalls.raiseFdLimit(to: 2048)
        let input = Syscalls.moveToHarnessRange(0), output = Syscalls.moveToHarnessRange(1)
        if fcntl(2, F_GETFD) >= 0 { console = fcntl(2, Syscalls.fDupfdCloexec, Syscalls.firstHarnessFd) }
        let null = Glibc.open("/dev/null", O_RDWR)
        for f in Int32(0)...2 where fcntl(f, F_GETFD) < 0 && null >= 0 { dup2(null, f) }
        if null > 2 { Glibc.close(null) }
        guard input >= 0, output >= 0 else {
            report("cannot move the controller's pipes: \(input) \(output)")
            _exit(3)
        }
        guard Syscalls.mapScratch(at: UserMemoryLayout.scratchBase, size: UserMemoryLayout.scratchSize) else {
            fputs("kernel child: cannot map scratch region: errno \(errno)\n", stderr)
            if let maps = KernelBackend.readText("/proc/self/maps") { fputs(maps, stderr) }
            exit(3)
        }
        installSignalHandlers()
        Syscalls.ownMemory = Syscalls.openHarnessFile("/proc/self/mem")
        // /proc/self/fd, re-read (rewinddir) to see which binder files the fds refer to.
        let fdDirectory = Syscalls.openHarnessFile("/proc/self/fd", flags: O_DIRECTORY)
        let fdDir = fdDirectory >= 0 ? fdopendir(fdDirectory) : nil
        if fdDir == nil { report("cannot open /proc/self/fd: \(fdDirectory)") }
        let device = Syscalls.identity(path: devicePath)
        // One worker per scenario thread, created now: a worker's /proc files are opened when
        // it is created, which must not happen while a step runs (a binder read of another
        // worker may be installing fds, and the scenario may have lowered its fd limit).
        let pool = (0..<Scenario.maxThreads).map { _ in WorkerThread() }
        if Syscalls.setFdLimit(FdRules.maxLimit) != 0 { report("cannot set the fd limit to \(FdRules.maxLimit)") }
        var fd: Int32 = -1
        /// The tag (`F_SETSIG`) of the binder file `fd` refers to.
        var ownTag: Int32 = 0
        var mappingBase: UInt64 = 0
        var mappingLength = 0
        var slots: [Int: Slot] = [:]
        let scratch = UnsafeMutableRawPointer(bitPattern: UInt(UserMemoryLayout.scratchBase))!
        /// Binder fds (fd → tag) at the last report.
        var lastBinderFds: [Int32: UInt8] = [:]

        func slot(_ thread: Int) -> Slot {
            if let s = slots[thread] { return s }
            let s = Slot(thread < pool.count ? pool[thread] : WorkerThread())
            slots[thread] = s
            return s
        }

        func isBinderFile(_ id: (dev: UInt64, ino: UInt64)) -> Bool {
            guard let device else { return false }
            return id.dev == device.dev && id.ino == device.ino
        }

        /// The open fds below the harness range (a fresh read of /proc/self/fd; opens nothing).
        func scenarioFds() -> [Int32] {
            guard let fdDir else { return [] }
            var fds: [Int32] = []
            rewinddir(fdDir)
            while let entry = readdir(fdDir) {
                let name = withUnsafePointer(to: &entry.pointee.d_name) {
                    $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
                }
                if let f = Int32(name), f >= 0, f < Syscalls.firstHarnessFd { fds.append(f) }
            }
            return fds
        }

        /// Which binder files the fds below the harness range refer to (their tags), and which
        /// binder fds closed (or changed file) since the last report. Opens nothing.
        func fileReport() -> BinderFileReport {
            var now: [Int32: UInt8] = [:]
            for f in scenarioFds() {
                guard let id = Syscalls.identity(f), isBinderFile(id) else { continue }
                now[f] = UInt8(truncatingIfNeeded: fcntl(f, Syscalls.fGetSig))
            }
            var closed: Set<UInt8> = []
            for (f, tag) in lastBinderFds where now[f] != tag { closed.insert(tag) }
            lastBinderFds = now
            return BinderFileReport(held: Set(now.values), closed: closed)
        }

        // The model's starting fd table, checked: exactly fds 0 to 2 below the harness range.
        if fdDir != nil, scenarioFds().sorted() != [0, 1, 2] {
            report("fds \(scenarioFds().sorted()) open below \(Syscalls.firstHarnessFd) at start, not 0 to 2")
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
            guard let header = Syscalls.readFully(input, ChildRequest.headerSize) else { _exit(0) }
            let op = ChildOp(rawValue: header[0]) ?? .exit
            let thread = Int(header[1])
            let a = header.le64(at: 2), b = header.le64(at: 10)
            let length = Int(header.le32(at: 18))
            let payload = length > 0 ? (Syscalls.readFully(input, length) ?? []) : []
            var reply = ChildReply(result: 0)
            switch op {
            case .open:
                fd = Syscalls.openBinder(devicePath, blocking: a != 0)
                if fd >= 0 {
                    ownTag = Int32(truncatingIfNeeded: b)
                    if fcntl(fd, Syscalls.fSetSig, ownTag) < 0 { report("F_SETSIG on the binder fd: errno \(errno)") }
                }
                reply.result = fd >= 0 ? 0 : Int64(fd)
                reply.files = fileReport()
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
                reply.files = fileReport()
            case .ioctl:
                let f = fd, command = UInt32(truncatingIfNeeded: a)
                reply.result = call(thread, Syscalls.ioctlNumber, command: command) { Syscalls.ioctl(f, command, b) }
                // A read may have installed received fds; BC_FREE_BUFFER of an FDA closes fds.
                reply.files = fileReport()
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
                reply.files = fileReport()
            case .newFile:
                let r = Syscalls.newFile(memfd: a == UInt64(FileKind.memfd.rawValue))
                reply.result = Int64(r)
                if r >= 0 {
                    let id = Syscalls.identity(r) ?? (0, 0)
                    reply.payload.appendLE64(id.dev)
                    reply.payload.appendLE64(id.ino)
                }
            case .closeFd:
                // The harness's own fds are not the scenario's: for it they are not open.
                let f = Int32(truncatingIfNeeded: a)
                reply.result = f >= 0 && f < Syscalls.firstHarnessFd ? Int64(Syscalls.closeFD(f)) : Int64(-EBADF)
                reply.files = fileReport()
            case .fileIdentity:
                let f = Int32(truncatingIfNeeded: a)
                if f >= 0, f < Syscalls.firstHarnessFd, let id = Syscalls.identity(f) {
                    var what: UInt8 = 3
                    if isBinderFile(id) { what = f == fd && fcntl(f, Syscalls.fGetSig) == ownTag ? 1 : 2 }
                    reply.payload = [what]
                    reply.payload.appendLE64(id.dev)
                    reply.payload.appendLE64(id.ino)
                } else {
                    reply.result = Int64(-EBADF)
                }
            case .setFdLimit:
                reply.result = Int64(Syscalls.setFdLimit(UInt32(truncatingIfNeeded: a)))
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
                _ = Syscalls.writeFully(output, reply.bytes)
                _exit(0)
            }
            guard Syscalls.writeFully(output, reply.bytes) else { _exit(0) }
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

    /// The VM console: a copy of fd 2 at a harness fd (a scenario may close fd 2 or reuse it).
    static var console: Int32 = 2

    /// Writes a harness error to the VM console: `@@ERROR` lines reach the host's report.
    static func report(_ message: String) {
        let step = GuestWatchdog.currentStep().map { " (\($0))" } ?? ""
        _ = Syscalls.writeFully(console, Array("@@ERROR kernel child \(getpid()): \(message)\(step)\n".utf8))
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
