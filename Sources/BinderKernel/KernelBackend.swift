#if os(Linux)
import BinderUAPI
import Glibc

/// Where the kernel backend finds its device and how it starts children.
public struct KernelConfiguration {
    /// The binder device of this scenario (a fresh binderfs device per scenario).
    public var devicePath: String
    /// argv of the child role (e.g. `[self, "kernel", "child", devicePath]`); empty: fork the
    /// controller instead of executing a new image.
    public var childArguments: [String]
    /// binderfs `binder_logs` directory (mounted with `stats=global`), used to wait for the
    /// kernel's deferred release and flush work; nil disables the wait.
    public var logsDirectory: String?
    public init(devicePath: String, childArguments: [String], logsDirectory: String?) {
        self.devicePath = devicePath; self.childArguments = childArguments; self.logsDirectory = logsDirectory
    }
}

/// The real Linux binder as a backend: each scenario process is a child OS process, each
/// scenario thread an OS thread in it; steps run strictly one at a time. A thread may park in
/// the kernel (a blocking read or poll): its child answers at once and the thread's result is
/// collected by `takeCompletions` once a later step woke it.
public final class KernelBackend: BinderBackend {
    public static var configuration = KernelConfiguration(devicePath: "/dev/binderfs/binder", childArguments: [], logsDirectory: nil)

    public var backendName: String { "kernel" }
    /// pid 0: the child exited (scenario `exit` or shutdown).
    private var children: [(pid: pid_t, toChild: Int32, fromChild: Int32)] = []
    private var pids: [Int32] = []
    /// Per process: the tag of the binder file its binder fd was opened as (nil: closed), and
    /// of the file its mapping holds (nil: not mapped). Each binder open gets a tag (1 to 64,
    /// `F_SETSIG` on the file, see `BinderFileReport`); a binder file alive keeps its proc.
    private var ownTag: [UInt8?]
    private var mappedTag: [UInt8?]
    /// Per process: the tags of the binder files its fds refer to, as its last report said
    /// (its own, and others' it received in FD or FDA objects).
    private var held: [Set<UInt8>]
    private var lastTag: UInt8 = 0
    /// The files the scenario created (`newFile`), in creation order: their identity, taken in
    /// the creating process right after creation, and kind.
    private var createdFiles: [(dev: UInt64, ino: UInt64, kind: FileKind)] = []
    /// Per process: the threads parked in an ioctl or poll, as far as the child said.
    private var parked: [Set<ThreadIndex>]
    /// Set when a child died or stopped answering: every later request gets a dummy answer.
    public private(set) var failure: String?

    public init(processCount: Int) {
        ownTag = Array(repeating: nil, count: processCount)
        mappedTag = ownTag
        held = Array(repeating: [], count: processCount)
        parked = Array(repeating: [], count: processCount)
        for i in 0..<processCount {
            let c = KernelBackend.spawnChild()
            children.append(c)
            GuestWatchdog.setChild(i, pid: c.pid)
        }
        pids = (0..<processCount).map { Int32(truncatingIfNeeded: request($0, ChildRequest(op: .pid)).result) }
    }

    deinit { shutdown() }

    /// Ends every child still running (their binder files are released by exit) and waits for
    /// the kernel's deferred release of all their procs.
    public func shutdown() {
        for i in children.indices where children[i].pid > 0 { endChild(i) }
        waitForDeferredWork(flushed: false)
    }

    /// Asks child `p` to `_exit`, reaps it and forgets its proc.
    private func endChild(_ p: ProcessIndex) {
        let c = children[p]
        if failure == nil { _ = request(p, ChildRequest(op: .exit)) }
        Glibc.close(c.toChild); Glibc.close(c.fromChild)
        var status: Int32 = 0
        while waitpid(c.pid, &status, 0) < 0 && errno == EINTR {}
        children[p].pid = 0
        GuestWatchdog.setChild(p, pid: 0)
        ownTag[p] = nil; mappedTag[p] = nil; held[p] = []
        parked[p] = []
    }

    private static func spawnChild() -> (pid: pid_t, toChild: Int32, fromChild: Int32) {
        var down: [Int32] = [0, 0], up: [Int32] = [0, 0]
        pipe(&down); pipe(&up)
        if configuration.childArguments.isEmpty {
            // fork without exec: under TCG an exec of the 16 MB static binary costs ~50-100 ms
            // per process, a fork a few ms. The controller is single-threaded, so the child
            // starts from a consistent copy; it keeps only its two pipe ends (as fd 0 and 1).
            let pid = fork()
            if pid == 0 {
                dup2(down[0], 0); dup2(up[1], 1)
                for fd in Int32(3)..<Int32(1024) { Glibc.close(fd) }
                KernelChild.run(devicePath: configuration.devicePath)
            }
            Glibc.close(down[0]); Glibc.close(up[1])
            if pid < 0 { fatalError("kernel backend: fork failed: \(errno)") }
            return (pid, down[1], up[0])
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        posix_spawn_file_actions_adddup2(&actions, down[0], 0)
        posix_spawn_file_actions_adddup2(&actions, up[1], 1)
        posix_spawn_file_actions_addclose(&actions, down[1])
        posix_spawn_file_actions_addclose(&actions, up[0])
        let args = configuration.childArguments
        var argv: [UnsafeMutablePointer<CChar>?] = args.map { strdup($0) } + [nil]
        var pid: pid_t = 0
        let r = posix_spawn(&pid, args[0], &actions, nil, &argv, environ)
        for p in argv { free(p) }
        posix_spawn_file_actions_destroy(&actions)
        Glibc.close(down[0]); Glibc.close(up[1])
        if r != 0 { fatalError("kernel backend: posix_spawn failed: \(r)") }
        return (pid, down[1], up[0])
    }

    /// One request to child `p` and its reply. A child that died (or was killed by the guest's
    /// watchdog) sets `failure`; from then on every request gets -EIO without talking to anyone.
    private func request(_ p: ProcessIndex, _ req: ChildRequest) -> ChildReply {
        let c = children[p]
        guard failure == nil, c.pid > 0 else { return ChildReply(result: Int64(-EIO)) }
        guard Syscalls.writeFully(c.toChild, req.bytes),
              let header = Syscalls.readFully(c.fromChild, ChildReply.headerSize) else {
            failure = "scenario process \(p) (pid \(c.pid)) died during \(req.op)"
            fputs("kernel backend: \(failure!)\n", stderr)
            return ChildReply(result: Int64(-EIO))
        }
        let n = Int(header.le32(at: 8)), m = Int(header.le32(at: 12))
        let payload = n > 0 ? (Syscalls.readFully(c.fromChild, n) ?? []) : []
        let report = m > 0 ? (Syscalls.readFully(c.fromChild, m) ?? []) : []
        return ChildReply(result: Int64(bitPattern: header.le64(at: 0)), payload: payload, files: BinderFileReport(report))
    }

    // MARK: - binder files alive

    /// The binder files alive as far as the scenario processes show: those their fds refer to
    /// and those their mappings hold. Each has its proc; a proc dies (deferred release) only
    /// once its file is gone. (A file referenced only by fd fixups of a transaction in flight
    /// is missed: `waitForActiveProcs` then sees more procs than expected and returns once the
    /// count stayed put for 250 ms.)
    private func liveBinderFiles() -> Set<UInt8> {
        var live: Set<UInt8> = []
        for p in children.indices where children[p].pid > 0 {
            live.formUnion(held[p])
            if let t = mappedTag[p] { live.insert(t) }
        }
        return live
    }

    /// Takes a child's report of its binder fds; returns the tags of the binder files some fd of
    /// it closed (each close flushed that file's proc).
    @discardableResult
    private func absorb(_ p: ProcessIndex, _ reply: ChildReply) -> Set<UInt8> {
        guard let report = reply.files, children[p].pid > 0 else { return [] }
        held[p] = report.held
        return report.closed
    }

    /// After a step that may have closed binder fds (`closed`: their files' tags) or dropped the
    /// last reference to a binder file (fewer files alive than `before`): waits for the flush
    /// (a fixed time, as for `close`) of files still alive, and for the release of the others.
    private func settleBinderFiles(before: Set<UInt8>, closed: Set<UInt8>) {
        let live = liveBinderFiles()
        guard !closed.isEmpty || !before.isSubset(of: live) else { return }
        waitForDeferredWork(flushed: !closed.isDisjoint(with: live))
    }

    /// A tag for a new binder open: the next of 1 to 64 not alive.
    private func newTag() -> UInt8 {
        let live = liveBinderFiles().union(ownTag.compactMap { $0 })
        for _ in 0..<64 {
            lastTag = lastTag % 64 + 1
            if !live.contains(lastTag) { break }
        }
        return lastTag
    }

    public func pid(of process: ProcessIndex) -> Int32 { pids[process] }

    public func writeUser(_ process: ProcessIndex, address: UInt64, bytes: [UInt8]) {
        _ = request(process, ChildRequest(op: .writeUser, a: address, payload: bytes))
    }

    public func readUser(_ process: ProcessIndex, address: UInt64, count: Int) -> [UInt8] {
        let bytes = request(process, ChildRequest(op: .readUser, a: address, b: UInt64(count))).payload
        return bytes.count == count ? bytes : [UInt8](repeating: 0, count: count)
    }

    public func readMapping(_ process: ProcessIndex, offset: UInt64, count: Int) -> [UInt8]? {
        if count == 0 { return [] }
        let r = request(process, ChildRequest(op: .readMapping, a: offset, b: UInt64(count)))
        return r.result == 0 && r.payload.count == count ? r.payload : nil
    }

    public func open(_ process: ProcessIndex, blocking: Bool) -> Int32 {
        let tag = newTag()
        let reply = request(process, ChildRequest(op: .open, a: blocking ? 1 : 0, b: UInt64(tag)))
        absorb(process, reply)
        let r = Int32(truncatingIfNeeded: reply.result)
        if r == 0 { ownTag[process] = tag }
        return r
    }

    public func mmap(_ process: ProcessIndex, length: UInt64, prot: UInt32) -> MmapResult {
        let r = request(process, ChildRequest(op: .mmap, a: length, b: UInt64(prot))).result
        if r < 0 { return .failed(Errno(rawValue: Int32(-r))) }
        mappedTag[process] = ownTag[process]
        return .mapped(UInt64(r))
    }

    public func munmap(_ process: ProcessIndex) -> Int32 {
        let r = Int32(truncatingIfNeeded: request(process, ChildRequest(op: .munmap)).result)
        mappedTag[process] = nil
        waitForDeferredWork(flushed: false)
        return r
    }

    /// `close` of the binder fd: `binder_flush` (deferred) when its file stays alive (mapped, or
    /// an fd of another process refers to it), else the release.
    public func close(_ process: ProcessIndex) -> Int32 {
        let reply = request(process, ChildRequest(op: .close))
        let closed = absorb(process, reply)
        ownTag[process] = nil
        waitForDeferredWork(flushed: !closed.isDisjoint(with: liveBinderFiles()))
        return Int32(truncatingIfNeeded: reply.result)
    }

    /// A call's result from the child; `parked` records the thread as parked.
    private func parkable(_ process: ProcessIndex, _ thread: ThreadIndex, _ reply: ChildReply) -> Int32 {
        let r = Int32(truncatingIfNeeded: reply.result)
        if r == BinderCall.parked { parked[process].insert(thread) }
        return r
    }

    /// A BINDER_WRITE_READ may close binder fds (`BC_FREE_BUFFER` of an FDA closes its fds) or
    /// drop a binder file's last reference (fd fixups freed): the child's report says.
    public func ioctl(_ process: ProcessIndex, thread: ThreadIndex, command: UInt32, argument: UInt64) -> Int32 {
        let before = liveBinderFiles()
        let reply = request(process, ChildRequest(op: .ioctl, thread: UInt8(thread), a: UInt64(command), b: argument))
        settleBinderFiles(before: before, closed: absorb(process, reply))
        return parkable(process, thread, reply)
    }

    public func poll(_ process: ProcessIndex, thread: ThreadIndex, blocking: Bool) -> Int32 {
        parkable(process, thread, request(process, ChildRequest(op: .poll, thread: UInt8(thread), a: blocking ? 1 : 0)))
    }

    /// The child sends SIGUSR2 (handler with `SA_RESTART`) or SIGUSR1 (without) to the thread's
    /// worker and waits until a parked one returned or sleeps in its call again.
    public func signal(_ process: ProcessIndex, thread: ThreadIndex, restart: Bool) {
        _ = request(process, ChildRequest(op: .signal, thread: UInt8(thread), a: restart ? 1 : 0))
    }

    /// `dup` + `close`: `binder_flush` is deferred work. The child waits until the threads
    /// parked in a read returned (the flush wakes them); with none, the flush has no
    /// side-effect-free observable and we give the workqueue the same fixed time as `close`.
    public func flushDuplicate(_ process: ProcessIndex) -> Int32 {
        let reply = request(process, ChildRequest(op: .flushDuplicate))
        let observed = reply.payload.first == 1
        waitForDeferredWork(flushed: !observed)
        return Int32(truncatingIfNeeded: reply.result)
    }

    /// The child `_exit`s with its threads wherever they are; the kernel ends them, drops the
    /// mapping and the fd (`binder_flush`, then the deferred `binder_release`), which we wait for.
    /// Its fds of other processes' binder files close too: each flushes that file's proc.
    public func exit(_ process: ProcessIndex) {
        guard children[process].pid > 0 else { return }
        var others = held[process]
        if let t = ownTag[process] { others.remove(t) }
        endChild(process)
        waitForDeferredWork(flushed: !others.isDisjoint(with: liveBinderFiles()))
    }

    /// Time passes for real. A freeze's `wait_event_interruptible_timeout` times out on a timer
    /// tick; the extra 50 ms lets it fire and the thread return before the harness settles.
    public func sleep(milliseconds: UInt32) {
        usleep(useconds_t(milliseconds) * 1000 + 50_000)
    }

    /// Asks every child with parked threads to settle them (each returns the ones that finished),
    /// in passes until one finds nothing new (at most 3): a wakeup may cross processes.
    public func takeCompletions() -> [ThreadCompletion] {
        var completions: [ThreadCompletion] = []
        let before = liveBinderFiles()
        var closed: Set<UInt8> = []
        defer { settleBinderFiles(before: before, closed: closed) }
        for _ in 0..<3 {
            var found = false
            for p in parked.indices where !parked[p].isEmpty && children[p].pid > 0 {
                let reply = request(p, ChildRequest(op: .settle))
                closed.formUnion(absorb(p, reply))
                let bytes = reply.payload
                var i = 0
                while i + 5 <= bytes.count {
                    let t = Int(bytes[i])
                    let result = Int32(bitPattern: bytes.le32(at: i + 1))
                    completions.append(ThreadCompletion(process: p, thread: t, result: result))
                    parked[p].remove(t)
                    found = true
                    i += 5
                }
            }
            if !found { break }
        }
        return completions
    }

    /// The kernel counts no copies for us.
    public var copiedBytes: UInt64 { 0 }
    public func checkInvariants() -> String? { nil }

    /// Waits (bounded, 2 s) until the kernel's deferred work is done.
    ///
    /// - Release (`binder_deferred_release`) ends by freeing the proc, which decrements the
    ///   global `proc: active` count in `binder_logs/stats`; we poll until that count equals the
    ///   binder files the scenario processes still hold (`liveBinderFiles`). `stats` takes no
    ///   node references, so reading it does not disturb the driver (`state` and `proc/<pid>` do: they take and drop node tmp refs,
    ///   which can queue node work).
    /// - Flush (`binder_deferred_flush`, after `close` of a still-mapped proc) has no
    ///   side-effect-free observable; we give the workqueue a fixed 20 ms. See
    ///   docs/KERNEL-DIVERGENCES.md.
    ///
    /// `flushed`: some step closed an fd of a binder file that stays alive.
    func waitForDeferredWork(flushed: Bool) {
        guard failure == nil, let logs = KernelBackend.configuration.logsDirectory else { return }
        if flushed { usleep(20_000) }
        KernelBackend.waitForActiveProcs(liveBinderFiles().count, logs: logs)
    }

    /// Polls `binder_logs/stats` (bounded, 2 s) until `expected` procs are alive.
    static func waitForActiveProcs(_ expected: Int, logs: String) {
        // The Rust driver's binderfs `stats` has no object counts: give its workqueue a fixed
        // 50 ms instead (see docs/KERNEL-DIVERGENCES.md).
        guard activeProcs(logs) != nil else { usleep(50_000); return }
        // Timed on the clock: the guest kernel ticks at 250 Hz without high-resolution timers,
        // so usleep(1000) sleeps about 4 ms.
        let end = HostTools.now() + 2
        var rounds = 0
        var last: Int? = nil
        var since = HostTools.now()
        while HostTools.now() < end {
            let n = activeProcs(logs)
            if n == expected { return }
            // More procs than binder files the processes hold, unchanged for 250 ms while
            // transactions are alive: fd fixups of a transaction in flight hold binder files
            // (see `liveBinderFiles`); the workqueue, on an otherwise idle CPU, is done.
            if n != last {
                last = n; since = HostTools.now()
            } else if let n, n > expected, HostTools.now() - since >= 0.25, (activeTransactions(logs) ?? 0) > 0 {
                return
            }
            rounds += 1
            // On one CPU a yield lets the kworker run; then sleep.
            if rounds < 50 { sched_yield() } else { usleep(1000) }
        }
        fputs("kernel backend: deferred release did not settle within 2 s\n", stderr)
    }

    /// The whole of a text file (nil when it cannot be opened).
    static func readText(_ path: String) -> String? {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { Glibc.close(fd) }
        return Syscalls.readProcFile(fd)
    }

    /// `<object>: active N` from the global section of binder_logs/stats (its first such line).
    static func active(_ object: String, in stats: String) -> Int? {
        for line in stats.split(separator: "\n") {
            let words = line.split(separator: " ")
            if words.count >= 3, words[0] == "\(object):", words[1] == "active" { return Int(words[2]) }
        }
        return nil
    }

    /// `transaction: active N` from binder_logs/stats (nil if absent).
    static func activeTransactions(_ logs: String) -> Int? {
        readText("\(logs)/stats").flatMap { active("transaction", in: $0) }
    }

    /// `proc: active N` from binder_logs/stats.
    static func activeProcs(_ logs: String) -> Int? {
        guard let text = readText("\(logs)/stats") else { return nil }
        if let n = active("proc", in: text) { return n }
        // The C driver prints the line once any proc was created (always true here); a stats
        // file without object counts (the Rust driver's) gives nil.
        return text.contains("binder stats:") && !text.contains("BC_") ? 0 : nil
    }

    // MARK: - files

    public func newFile(_ process: ProcessIndex, kind: FileKind) -> Int32 {
        let reply = request(process, ChildRequest(op: .newFile, a: UInt64(kind.rawValue)))
        let r = Int32(truncatingIfNeeded: reply.result)
        if r >= 0 {
            // Numbered like the model's files: every file made counts.
            let ok = reply.payload.count >= 16
            createdFiles.append((ok ? reply.payload.le64(at: 0) : 0, ok ? reply.payload.le64(at: 8) : 0, kind))
        }
        return r
    }

    /// `close(fd)`; an fd of a binder file flushes its proc, or releases it with the last reference.
    public func closeFd(_ process: ProcessIndex, fd: Int32) -> Int32 {
        guard fd >= 0 else { return Errno.EBADF.negated }
        let before = liveBinderFiles()
        let reply = request(process, ChildRequest(op: .closeFd, a: UInt64(fd)))
        settleBinderFiles(before: before, closed: absorb(process, reply))
        return Int32(truncatingIfNeeded: reply.result)
    }

    /// `fstat` in the process: binder files by the device's inode, created files by the
    /// (st_dev, st_ino) recorded when they were made (the latest match: an inode number of a
    /// file gone may come back).
    public func fileIdentity(_ process: ProcessIndex, fd: Int32) -> FileIdentity {
        guard fd >= 0 else { return .none }
        let reply = request(process, ChildRequest(op: .fileIdentity, a: UInt64(fd)))
        guard reply.result == 0, reply.payload.count >= 17 else { return .none }
        switch reply.payload[0] {
        case 1: return .ownBinder
        case 2: return .binder
        default:
            let dev = reply.payload.le64(at: 1), ino = reply.payload.le64(at: 9)
            guard let i = createdFiles.lastIndex(where: { $0.dev == dev && $0.ino == ino }) else { return .other }
            return .file(index: i, kind: createdFiles[i].kind)
        }
    }

    public func setFdLimit(_ process: ProcessIndex, limit: UInt32) -> Int32 {
        Int32(truncatingIfNeeded: request(process, ChildRequest(op: .setFdLimit, a: UInt64(min(limit, FdRules.maxLimit)))).result)
    }
}
#endif
