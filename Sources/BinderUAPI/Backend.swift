/// A logical process of a scenario (0-based). Each one has its own user memory and at most one
/// binder file open at a time.
public typealias ProcessIndex = Int
/// A logical thread within a process (0-based).
public typealias ThreadIndex = Int

/// The user-memory contract every backend follows.
///
/// Each simulated process has one read/write scratch region at the same address in every
/// process (far from where Linux places the heap, libraries and stack of a real process), `[scratchBase, scratchBase + scratchSize)`. The harness places ioctl arguments,
/// write buffers, read buffers, payloads and offsets arrays there. `copy_from_user` /
/// `copy_to_user` of any range not wholly inside the scratch region faults (`-EFAULT`).
/// The binder mapping itself is read-only to user space; the backends treat it as not
/// accessible to `copy_from_user`/`copy_to_user` (see docs/KERNEL-DIVERGENCES.md); the harness
/// reads received buffers through `readMapping`.
public enum UserMemoryLayout {
    public static let scratchBase: UInt64 = 0x5A00_0000_0000
    public static let scratchSize: Int = 0x40000
    /// An address that is never mapped in any process (for `-EFAULT` tests).
    public static let unmappedAddress: UInt64 = 0x5B00_0000_0000

    @inlinable public static func contains(_ address: UInt64, count: Int) -> Bool {
        guard count >= 0, address >= scratchBase else { return false }
        let (end, overflow) = address.addingReportingOverflow(UInt64(count))
        return !overflow && end <= scratchBase + UInt64(scratchSize)
    }
}

/// Values of calls that may block.
public enum BinderCall {
    /// Returned by `ioctl` and `poll` when the calling thread parked in the driver. No errno has
    /// this value.
    public static let parked = Int32.min
    /// `POLLIN`, the only event `binder_poll` reports.
    public static let pollIn: Int32 = 1
}

/// A parked thread that returned: the `ioctl` or `poll` result it finally got.
public struct ThreadCompletion: Equatable, Sendable {
    public var process: ProcessIndex
    public var thread: ThreadIndex
    public var result: Int32
    public init(process: ProcessIndex, thread: ThreadIndex, result: Int32) {
        self.process = process; self.thread = thread; self.result = result
    }
}

/// What `newFile` creates.
public enum FileKind: UInt8, Equatable, Sendable, CaseIterable {
    /// `pipe`, keeping the read end (the write end is closed once the content is in).
    case pipe = 0
    /// `memfd_create`.
    case memfd = 1
}

/// Fd numbers the harness relies on.
public enum FdRules {
    /// An fd number no scenario process ever has open.
    public static let unusedFd: Int32 = 1000
    /// The largest `fdLimit` (the default soft limit of a Linux process).
    public static let maxLimit: UInt32 = 1024
}

/// What an fd of a scenario process refers to, as user space can tell (`fstat`).
public enum FileIdentity: Equatable, Sendable, CustomStringConvertible {
    /// No open fd with that number (`-EBADF`).
    case none
    /// The process's own binder fd.
    case ownBinder
    /// A binder file of another open: another process's binder fd, received in a transaction.
    case binder
    /// The `index`-th file (0-based) the scenario created with `newFile`, in any process.
    case file(index: Int, kind: FileKind)
    /// Anything else: the harness's own fds 0 to 2.
    case other

    public var description: String {
        switch self {
        case .none: return "no file"
        case .ownBinder: return "own binder"
        case .binder: return "binder"
        case let .file(i, kind): return "file#\(i) (\(kind == .pipe ? "pipe" : "memfd"))"
        case .other: return "other"
        }
    }
}

/// Result of an `mmap` of the binder file.
public enum MmapResult: Equatable, Sendable {
    /// The mapping's base user address.
    case mapped(UInt64)
    case failed(Errno)
}

/// One implementation of the Binder driver, driven through the same surface as `/dev/binder`.
///
/// Every method is a pure function of the sequence of calls made so far: no clocks, no
/// randomness, no threads, no hash-order dependence. Bad input never traps: it gets the errno
/// or BR code Linux 6.12 gives. Release of a process (its last file reference gone: the fd
/// closed and the mapping unmapped) takes effect synchronously inside the call that drops the
/// last reference (`binder_release` then `binder_deferred_release`).
///
/// Lifecycle preconditions are the caller's job (the harness runner enforces them):
/// `open` only while the process has no binder fd; `ioctl`, `mmap`, `close` only while it has
/// one; `munmap` only while it has a mapping. A process that was released may `open` again,
/// which creates a fresh `binder_proc` with the same pid.
public protocol BinderBackend: AnyObject {
    /// A short name for reports ("model", "driver", "kernel").
    var backendName: String { get }

    /// Creates `processCount` processes, each with zeroed scratch memory and no binder fd.
    init(processCount: Int)

    /// The pid (tgid) the driver reports for a process in `sender_pid`.
    func pid(of process: ProcessIndex) -> Int32

    /// Harness access to scratch memory (not a driver copy, never counted).
    /// Precondition: the range lies inside the scratch region.
    func writeUser(_ process: ProcessIndex, address: UInt64, bytes: [UInt8])
    func readUser(_ process: ProcessIndex, address: UInt64, count: Int) -> [UInt8]

    /// Bytes of the binder mapping as the process sees them, at `offset` from the mapping's
    /// base; nil when the process has no mapping or the range exceeds the used buffer size.
    func readMapping(_ process: ProcessIndex, offset: UInt64, count: Int) -> [UInt8]?

    /// `open(O_RDWR|O_CLOEXEC)` of the binder device (`binder_open`), with `O_NONBLOCK` unless
    /// `blocking`. Returns 0 or -errno.
    func open(_ process: ProcessIndex, blocking: Bool) -> Int32
    /// `mmap(NULL, length, prot, MAP_PRIVATE, fd, 0)` (`binder_mmap`). `length` is a non-zero
    /// multiple of the page size.
    func mmap(_ process: ProcessIndex, length: UInt64, prot: UInt32) -> MmapResult
    /// `munmap` of the whole binder mapping (vma close, then maybe `binder_release`). Returns 0.
    func munmap(_ process: ProcessIndex) -> Int32
    /// `close(fd)` (`binder_flush`, then maybe `binder_release`). Returns 0.
    func close(_ process: ProcessIndex) -> Int32
    /// `ioctl(fd, command, argument)` issued by `thread` (`binder_ioctl`). Returns 0, -errno, or
    /// `BinderCall.parked` when the thread went to sleep in the driver (a read on a blocking fd
    /// with no work, `binder_wait_for_work`); its result then arrives through `takeCompletions`.
    func ioctl(_ process: ProcessIndex, thread: ThreadIndex, command: UInt32, argument: UInt64) -> Int32

    /// `poll` of the binder fd for `POLLIN` by `thread` (`binder_poll`), with a timeout of 0 or
    /// none (`blocking`). Returns the `revents` (0 when nothing is ready), -errno, or
    /// `BinderCall.parked` (a blocking poll with nothing ready).
    func poll(_ process: ProcessIndex, thread: ThreadIndex, blocking: Bool) -> Int32
    /// Delivers a signal with a handler (installed with `SA_RESTART` when `restart`) to `thread`.
    /// A parked thread is interrupted; any other thread is unaffected.
    func signal(_ process: ProcessIndex, thread: ThreadIndex, restart: Bool)
    /// A new file (`pipe` read end or `memfd`) at the lowest free fd below the process's fd
    /// limit (`get_unused_fd_flags`). Returns the fd or -errno (-EMFILE past the limit).
    func newFile(_ process: ProcessIndex, kind: FileKind) -> Int32
    /// `close(fd)` of any fd but the process's own binder fd (the runner never asks for that).
    /// Returns 0 or -EBADF.
    func closeFd(_ process: ProcessIndex, fd: Int32) -> Int32
    /// What `fd` of the process refers to. An observation: changes nothing.
    func fileIdentity(_ process: ProcessIndex, fd: Int32) -> FileIdentity
    /// `setrlimit(RLIMIT_NOFILE)` with this soft limit (at most 1024). Returns 0.
    func setFdLimit(_ process: ProcessIndex, limit: UInt32) -> Int32
    /// `close` of a second fd of the process for the same file (`dup` then `close`): `binder_flush`
    /// alone, never a release. Returns 0.
    func flushDuplicate(_ process: ProcessIndex) -> Int32
    /// Process exit: every thread ends (parked ones are interrupted and report nothing), then the
    /// mapping and the fd are dropped, as in `do_exit` (`exit_mm`, then `exit_files`).
    func exit(_ process: ProcessIndex)
    /// Time passes: `milliseconds` of it (the model and driver keep a virtual clock that only
    /// this call advances). Freezes waiting past their `timeout_ms` return.
    func sleep(milliseconds: UInt32)
    /// Parked threads that returned during the calls since the last `takeCompletions`, in the
    /// order they returned.
    func takeCompletions() -> [ThreadCompletion]
    /// True when the outcome of the last call (its completions included) may depend on how the
    /// kernel schedules the threads it woke. Only the model knows; other backends say false.
    var lastCallIsSchedulingDependent: Bool { get }

    /// Bytes copied from sender user memory into target buffers so far, counting every
    /// successful copy the driver performs, in the kernel's copy order (§7.5 of the semantics:
    /// offsets array, data gaps, objects, trailing data, scatter-gather). A faulting copy counts 0.
    var copiedBytes: UInt64 { get }

    /// Checks internal invariants (refcounts against existing refs, allocator tiling, no
    /// overlapping buffers, ...). Returns a description of the first violation, or nil.
    func checkInvariants() -> String?
}

extension BinderBackend {
    public var lastCallIsSchedulingDependent: Bool { false }
}
