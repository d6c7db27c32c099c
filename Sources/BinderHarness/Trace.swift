import BinderUAPI

/// A user address after normalization: inside a process's binder mapping it is written as
/// (process, offset), so traces from backends with different mapping bases compare equal.
public enum NormalizedAddress: Equatable, Hashable, Sendable, CustomStringConvertible {
    case mapped(process: ProcessIndex, offset: UInt64)
    case raw(UInt64)

    public var description: String {
        switch self {
        case let .mapped(p, off): return "P\(p)+0x\(String(off, radix: 16))"
        case let .raw(a): return "0x\(String(a, radix: 16))"
        }
    }
}

/// A received BR_TRANSACTION / BR_REPLY payload, normalized.
public struct ReceivedTransaction: Equatable, Sendable {
    public var targetPtr: UInt64
    public var cookie: UInt64
    public var code: UInt32
    public var flags: UInt32
    /// The sending process, or -1 for pid 0, or -2 for a pid the scenario does not know.
    public var senderProcess: Int
    public var senderEUID: UInt32
    public var dataSize: UInt64
    public var offsetsSize: UInt64
    public var buffer: NormalizedAddress
    public var offsets: NormalizedAddress
    /// `secctx` of BR_TRANSACTION_SEC_CTX.
    public var securityContext: NormalizedAddress?
    /// The data bytes `[0, data_size)` (capped), with PTR object addresses normalized to offsets.
    public var data: [UInt8]
    /// The offsets array.
    public var offsetsArray: [UInt64]
    /// The fds the driver installed for the payload's FD and FDA objects, in installation
    /// order (read from the delivered objects and FDA arrays).
    public var fds: [Int32] = []
}

/// One decoded BR return.
public enum DecodedReturn: Equatable, Sendable, CustomStringConvertible {
    case plain(BinderReturn)
    case ptrCookie(BinderReturn, ptr: UInt64, cookie: UInt64)
    case cookie(BinderReturn, UInt64)
    case transaction(BinderReturn, ReceivedTransaction)
    case frozenBinder(cookie: UInt64, isFrozen: UInt32, reserved: UInt32)
    /// A code whose payload does not fit in the consumed bytes.
    case truncated(code: UInt32, bytes: [UInt8])
    /// A word that is not a known BR code; decoding stops here.
    case unknown(UInt32)

    public var description: String {
        func hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }
        switch self {
        case let .plain(c): return c.description
        case let .ptrCookie(c, p, k): return "\(c)(ptr=\(hex(p)) cookie=\(hex(k)))"
        case let .cookie(c, k): return "\(c)(\(hex(k)))"
        case let .transaction(c, t):
            var s = "\(c)(ptr=\(hex(t.targetPtr)) cookie=\(hex(t.cookie)) code=\(hex(UInt64(t.code))) flags=\(hex(UInt64(t.flags)))"
            s += " from=\(t.senderProcess >= 0 ? "P\(t.senderProcess)" : t.senderProcess == -1 ? "0" : "?")"
            s += " data=\(t.dataSize) offsets=\(t.offsetsSize) buf=\(t.buffer) offp=\(t.offsets)"
            if let sc = t.securityContext { s += " secctx=\(sc)" }
            if !t.offsetsArray.isEmpty { s += " objs=\(t.offsetsArray)" }
            if !t.fds.isEmpty { s += " fds=\(t.fds)" }
            s += " bytes=\(t.data.prefix(48).map { String(format2: $0) }.joined())\(t.data.count > 48 ? "…" : ""))"
            return s
        case let .frozenBinder(k, f, r): return "BR_FROZEN_BINDER(cookie=\(hex(k)) frozen=\(f) reserved=\(r))"
        case let .truncated(c, b): return "truncated(\(BinderReturn(rawValue: c)), \(b.count) bytes)"
        case let .unknown(w): return "unknown(\(hex(UInt64(w))))"
        }
    }
}

extension String {
    init(format2 byte: UInt8) {
        let s = String(byte, radix: 16)
        self = s.count == 1 ? "0" + s : s
    }
}

/// What one step did, normalized. Equal outcomes mean the backends agree on the step.
public struct StepOutcome: Equatable, Sendable, CustomStringConvertible {
    /// nil when the runner skipped the step (a lifecycle precondition did not hold).
    public var result: Int32?
    public var skipped: String?
    public var writeConsumed: UInt64?
    public var readConsumed: UInt64?
    public var returns: [DecodedReturn]
    /// Bytes an ioctl wrote back into its argument (VERSION, GET_EXTENDED_ERROR, ...).
    public var output: [UInt8]
    /// The step's thread went to sleep in the driver: its outcome arrives later, as a completion
    /// of the step that woke it. `result` is nil then.
    public var parked: Bool
    /// Parked threads that returned during this step, ordered by (process, thread).
    public var completions: [ThreadOutcome]
    /// What the fd of a `checkFd` refers to.
    public var file: FileIdentity?

    public init(result: Int32? = nil, skipped: String? = nil, writeConsumed: UInt64? = nil, readConsumed: UInt64? = nil,
                returns: [DecodedReturn] = [], output: [UInt8] = [], parked: Bool = false, completions: [ThreadOutcome] = [],
                file: FileIdentity? = nil) {
        self.result = result; self.skipped = skipped; self.writeConsumed = writeConsumed
        self.readConsumed = readConsumed; self.returns = returns; self.output = output
        self.parked = parked; self.completions = completions; self.file = file
    }

    public static func skip(_ why: String) -> StepOutcome { StepOutcome(skipped: why) }

    public var description: String {
        if let skipped { return "skipped (\(skipped))" }
        var s = parked ? "-> parked" : "-> \(Errno.describe(result ?? 0))"
        if let writeConsumed { s += " wc=\(writeConsumed)" }
        if let readConsumed { s += " rc=\(readConsumed)" }
        if !output.isEmpty { s += " out=\(output.map { String(format2: $0) }.joined())" }
        if let file { s += " \(file)" }
        if !returns.isEmpty { s += " [" + returns.map(\.description).joined(separator: ", ") + "]" }
        for c in completions { s += "; woke P\(c.process).T\(c.thread) \(c.outcome)" }
        return s
    }
}

/// The outcome a parked thread finally got.
public struct ThreadOutcome: Equatable, Sendable {
    public var process: ProcessIndex
    public var thread: ThreadIndex
    public var outcome: StepOutcome
    public init(process: ProcessIndex, thread: ThreadIndex, outcome: StepOutcome) {
        self.process = process; self.thread = thread; self.outcome = outcome
    }
}

/// The normalized trace of a scenario on one backend: one outcome per step.
public struct Trace: Equatable, Sendable {
    public var backend: String
    public var outcomes: [StepOutcome]
    /// The first step whose outcome may depend on how the kernel schedules woken threads (the
    /// model says so); a comparison with a real kernel stops before it. nil: none.
    public var firstSchedulingDependentStep: Int?
    public init(backend: String, outcomes: [StepOutcome], firstSchedulingDependentStep: Int? = nil) {
        self.backend = backend; self.outcomes = outcomes; self.firstSchedulingDependentStep = firstSchedulingDependentStep
    }
}
