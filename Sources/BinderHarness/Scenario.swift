import BinderUAPI

/// A scenario: a fixed number of processes and a list of steps, each issued by a named
/// (process, thread) pair. Steps are run strictly one at a time, in order.
public struct Scenario: Equatable, Sendable {
    public static let maxProcesses = 6
    public static let maxThreads = 6

    public var processCount: Int
    public var steps: [Step]

    public init(processCount: Int, steps: [Step] = []) {
        self.processCount = processCount
        self.steps = steps
    }
}

/// One step: an ioctl or a lifecycle event issued by `thread` of `process`.
public struct Step: Equatable, Sendable {
    public var process: ProcessIndex
    public var thread: ThreadIndex
    public var action: Action

    public init(_ process: ProcessIndex, _ thread: ThreadIndex, _ action: Action) {
        self.process = process
        self.thread = thread
        self.action = action
    }
}

/// Where a user pointer in an ioctl argument points.
public enum PointerSpec: UInt8, Equatable, Sendable, CaseIterable {
    /// The harness's scratch area (valid memory).
    case valid = 0
    /// Address 0.
    case null = 1
    /// An address that is never mapped (`UserMemoryLayout.unmappedAddress`).
    case unmapped = 2
}

/// A lifecycle event or an ioctl.
public enum Action: Equatable, Sendable {
    /// `open(O_RDWR|O_NONBLOCK|O_CLOEXEC)` of the scenario's binder device.
    case open
    /// `open(O_RDWR|O_CLOEXEC)`: a blocking fd, whose reads (and blocking polls) can park the
    /// thread in the driver until another step wakes it.
    case openBlocking
    /// `poll` of the binder fd for `POLLIN`, with a timeout of 0, or none when `blocking` (the
    /// thread parks until woken when nothing is ready).
    case poll(blocking: Bool)
    /// A signal to this thread, whose handler is installed with `SA_RESTART` when `restart`.
    /// Interrupts the thread if it is parked; no effect otherwise.
    case signal(restart: Bool)
    /// `dup` of the binder fd, then `close` of the duplicate: `binder_flush` without a release.
    case flushDuplicate
    /// The process exits: its threads end (parked ones included), its mapping and fd go.
    /// Later steps of the process are skipped.
    case exit
    /// `mmap(NULL, pages * 4096, prot, MAP_PRIVATE, fd, 0)`.
    case mmap(pages: UInt32, prot: UInt32)
    /// `munmap` of the whole binder mapping.
    case munmap
    /// `close(fd)`.
    case close
    /// `BINDER_VERSION`.
    case version
    /// `BINDER_SET_MAX_THREADS`.
    case setMaxThreads(UInt32)
    /// `BINDER_SET_CONTEXT_MGR`.
    case setContextManager
    /// `BINDER_SET_CONTEXT_MGR_EXT` with a `flat_binder_object`.
    case setContextManagerExt(ptr: UInt64, cookie: UInt64, flags: UInt32)
    /// `BINDER_THREAD_EXIT`.
    case threadExit
    /// `BINDER_WRITE_READ`.
    case writeRead(WriteRead)
    /// `BINDER_ENABLE_ONEWAY_SPAM_DETECTION`.
    case enableOnewaySpamDetection(UInt32)
    /// `BINDER_GET_EXTENDED_ERROR`.
    case getExtendedError
    /// `BINDER_GET_NODE_DEBUG_INFO` for nodes above `ptr`.
    case nodeDebugInfo(ptr: UInt64)
    /// `BINDER_GET_NODE_INFO_FOR_REF` for `handle`.
    case nodeInfoForRef(handle: UInt32)
    /// `BINDER_FREEZE` of another process of the scenario (by its pid). With `timeout_ms`, a
    /// freeze waits (parked) until the target's outstanding transactions drain or time runs out.
    case freeze(target: ProcessIndex, enable: UInt32, timeoutMs: UInt32 = 0)
    /// Time passes (the kernel oracle sleeps): freezes waiting past their timeout return.
    case sleep(milliseconds: UInt32)
    /// `BINDER_GET_FROZEN_INFO` of a process of the scenario.
    case frozenInfo(target: ProcessIndex)
    /// Any ioctl number with an argument of raw bytes placed in scratch (or a bad pointer).
    case rawIoctl(command: UInt32, argument: [UInt8], pointer: PointerSpec)
    /// A new file the process can pass (a pipe's read end or a memfd, holding a few bytes), at
    /// the lowest free fd. Files are numbered in the order the scenario creates them.
    case newFile(FileKind)
    /// `close` of one of the process's files (never its binder fd: the runner skips that).
    case closeFd(FdRef)
    /// Which file an fd refers to (`fstat`): the harness's check that a receiver got the same
    /// file as was sent.
    case checkFd(FdRef)
    /// `setrlimit(RLIMIT_NOFILE)` with this soft limit (at most `FdRules.maxLimit`): new fds,
    /// those the driver installs included, must be below it.
    case fdLimit(UInt32)
}

/// An fd of the process that runs the step, resolved when the step runs.
public enum FdRef: Equatable, Sendable {
    /// The fd of the `index`-th file (0-based) this process created with `newFile`; an unknown
    /// index resolves to `FdRules.unusedFd`.
    case created(index: UInt32)
    /// The `index`-th fd (0-based) the driver installed in this process for received FD and
    /// FDA objects, in installation order; an unknown index resolves to `FdRules.unusedFd`.
    case received(index: UInt32)
    /// A literal fd number.
    case literal(UInt32)
}


extension Action {
    /// A signal to the thread, the exit of its process, or time passing: these happen to a
    /// parked thread; every other step needs the thread to be running.
    public var isProcessEvent: Bool {
        switch self {
        case .signal, .exit, .sleep: return true
        default: return false
        }
    }
}

/// The argument of one `BINDER_WRITE_READ`.
public struct WriteRead: Equatable, Sendable {
    public static let maxReadSize: UInt32 = 0x4000

    /// Commands encoded back to back into the write buffer.
    public var commands: [Command]
    /// Added to the encoded length to form `write_size` (negative truncates the last command).
    public var writeSizeAdjust: Int32
    /// The incoming `write_consumed` (an offset into the write buffer).
    public var writeConsumed: UInt32
    /// `read_size` (0: no read). At most `maxReadSize`. On a blocking fd a read with no work
    /// parks the thread.
    public var readSize: UInt32
    /// The incoming `read_consumed`.
    public var readConsumed: UInt32
    /// Where `write_buffer`, `read_buffer` and the `binder_write_read` struct itself point.
    public var writePointer: PointerSpec
    public var readPointer: PointerSpec
    public var structPointer: PointerSpec

    public init(commands: [Command] = [], readSize: UInt32 = 0, writeSizeAdjust: Int32 = 0, writeConsumed: UInt32 = 0,
                readConsumed: UInt32 = 0, writePointer: PointerSpec = .valid, readPointer: PointerSpec = .valid,
                structPointer: PointerSpec = .valid) {
        self.commands = commands; self.writeSizeAdjust = writeSizeAdjust; self.writeConsumed = writeConsumed
        self.readSize = readSize; self.readConsumed = readConsumed; self.writePointer = writePointer
        self.readPointer = readPointer; self.structPointer = structPointer
    }
}

/// A buffer address, resolved when the step runs.
public enum BufferRef: Equatable, Sendable {
    /// The `index`-th buffer (0-based) this process received in a BR_TRANSACTION or BR_REPLY
    /// since it last opened the device; an unknown index resolves to the mapping base + 8.
    case received(index: UInt32)
    /// The process's mapping base plus a literal offset.
    case mappingOffset(UInt64)
    /// A literal user address.
    case literal(UInt64)
}

/// One BC command in a write buffer.
public enum Command: Equatable, Sendable {
    case transaction(Transaction)
    case reply(Transaction)
    case freeBuffer(BufferRef)
    case increfs(UInt32)
    case acquire(UInt32)
    case release(UInt32)
    case decrefs(UInt32)
    case increfsDone(ptr: UInt64, cookie: UInt64)
    case acquireDone(ptr: UInt64, cookie: UInt64)
    case registerLooper
    case enterLooper
    case exitLooper
    case requestDeathNotification(handle: UInt32, cookie: UInt64)
    case clearDeathNotification(handle: UInt32, cookie: UInt64)
    case deadBinderDone(cookie: UInt64)
    case requestFreezeNotification(handle: UInt32, cookie: UInt64)
    case clearFreezeNotification(handle: UInt32, cookie: UInt64)
    case freezeNotificationDone(cookie: UInt64)
    /// Raw bytes copied into the write buffer as they are (any BC code, malformed payloads).
    case raw([UInt8])
}

/// A BC_TRANSACTION / BC_REPLY (or their _SG forms when `buffersSize` is set).
public struct Transaction: Equatable, Sendable {
    /// `target.handle` (ignored for replies).
    public var handle: UInt32
    public var code: UInt32
    public var flags: UInt32
    /// The payload: filler bytes and objects; the offsets array lists the objects.
    public var payload: Payload
    /// Non-nil: use BC_TRANSACTION_SG / BC_REPLY_SG with this `buffers_size`.
    public var buffersSize: UInt64?
    /// Where `data.ptr.buffer` and `data.ptr.offsets` point.
    public var dataPointer: PointerSpec
    public var offsetsPointer: PointerSpec

    public init(handle: UInt32 = 0, code: UInt32 = 0, flags: UInt32 = 0, payload: Payload = Payload(),
                buffersSize: UInt64? = nil, dataPointer: PointerSpec = .valid, offsetsPointer: PointerSpec = .valid) {
        self.handle = handle; self.code = code; self.flags = flags; self.payload = payload
        self.buffersSize = buffersSize; self.dataPointer = dataPointer; self.offsetsPointer = offsetsPointer
    }

    public var isOneway: Bool { flags & TransactionFlags.oneWay != 0 }
}

/// A transaction payload. Data is laid out as: for each object, `gap` filler bytes, then the
/// object; then `trailing` filler bytes. Filler byte i of the data is `fillerByte(i)`.
public struct Payload: Equatable, Sendable {
    public var objects: [PayloadObject]
    public var trailing: UInt32
    /// nil: the offsets array lists the objects' positions. Otherwise these raw offsets.
    public var offsetsOverride: [UInt64]?
    /// Added to the real data length to form `data_size`.
    public var dataSizeAdjust: Int32
    /// Added to `8 * offsets.count` to form `offsets_size`.
    public var offsetsSizeAdjust: Int32

    public init(objects: [PayloadObject] = [], trailing: UInt32 = 0, offsetsOverride: [UInt64]? = nil,
                dataSizeAdjust: Int32 = 0, offsetsSizeAdjust: Int32 = 0) {
        self.objects = objects; self.trailing = trailing; self.offsetsOverride = offsetsOverride
        self.dataSizeAdjust = dataSizeAdjust; self.offsetsSizeAdjust = offsetsSizeAdjust
    }

    @inlinable public static func fillerByte(_ index: Int) -> UInt8 { UInt8(truncatingIfNeeded: index &* 37 &+ 11) }
}

/// An object embedded in a payload, preceded by `gap` filler bytes.
public struct PayloadObject: Equatable, Sendable {
    public var gap: UInt32
    public var kind: ObjectKind
    public init(gap: UInt32 = 0, _ kind: ObjectKind) { self.gap = gap; self.kind = kind }
}

public enum ObjectKind: Equatable, Sendable {
    /// BINDER_TYPE_BINDER / WEAK_BINDER: one of the sender's own objects.
    case binder(ptr: UInt64, cookie: UInt64, flags: UInt32, weak: Bool)
    /// BINDER_TYPE_HANDLE / WEAK_HANDLE.
    case handle(UInt32, flags: UInt32, weak: Bool)
    /// BINDER_TYPE_FD.
    case fd(FdRef)
    /// BINDER_TYPE_PTR with a blob of `length` filler bytes placed in scratch.
    case ptr(length: UInt32, flags: UInt32, parent: UInt32, parentOffset: UInt32)
    /// BINDER_TYPE_FDA. `fds` are written into the blob of the PTR object at offsets index
    /// `parent` of the same payload, from `parentOffset` on (as far as the blob goes); with no
    /// `fds` the blob keeps its filler bytes.
    case fda(numFds: UInt32, parent: UInt32, parentOffset: UInt32, fds: [FdRef] = [])
    /// 24 raw bytes (any type word, any fields).
    case raw([UInt8])
}
