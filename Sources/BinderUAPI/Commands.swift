/// BC codes: commands that user space writes into the write buffer of `BINDER_WRITE_READ`
/// (`enum binder_driver_command_protocol`). The driver dispatches on the full 32-bit value.
public struct BinderCommand: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// `BC_TRANSACTION`
    public static let transaction = BinderCommand(rawValue: IoctlEncoding.iow("c", 0, 64))
    /// `BC_REPLY`
    public static let reply = BinderCommand(rawValue: IoctlEncoding.iow("c", 1, 64))
    /// `BC_ACQUIRE_RESULT` (unsupported: -EINVAL)
    public static let acquireResult = BinderCommand(rawValue: IoctlEncoding.iow("c", 2, 4))
    /// `BC_FREE_BUFFER`
    public static let freeBuffer = BinderCommand(rawValue: IoctlEncoding.iow("c", 3, 8))
    /// `BC_INCREFS`
    public static let increfs = BinderCommand(rawValue: IoctlEncoding.iow("c", 4, 4))
    /// `BC_ACQUIRE`
    public static let acquire = BinderCommand(rawValue: IoctlEncoding.iow("c", 5, 4))
    /// `BC_RELEASE`
    public static let release = BinderCommand(rawValue: IoctlEncoding.iow("c", 6, 4))
    /// `BC_DECREFS`
    public static let decrefs = BinderCommand(rawValue: IoctlEncoding.iow("c", 7, 4))
    /// `BC_INCREFS_DONE`
    public static let increfsDone = BinderCommand(rawValue: IoctlEncoding.iow("c", 8, 16))
    /// `BC_ACQUIRE_DONE`
    public static let acquireDone = BinderCommand(rawValue: IoctlEncoding.iow("c", 9, 16))
    /// `BC_ATTEMPT_ACQUIRE` (unsupported: -EINVAL)
    public static let attemptAcquire = BinderCommand(rawValue: IoctlEncoding.iow("c", 10, 8))
    /// `BC_REGISTER_LOOPER`
    public static let registerLooper = BinderCommand(rawValue: IoctlEncoding.io("c", 11))
    /// `BC_ENTER_LOOPER`
    public static let enterLooper = BinderCommand(rawValue: IoctlEncoding.io("c", 12))
    /// `BC_EXIT_LOOPER`
    public static let exitLooper = BinderCommand(rawValue: IoctlEncoding.io("c", 13))
    /// `BC_REQUEST_DEATH_NOTIFICATION` (payload: packed `binder_handle_cookie`, 12 bytes)
    public static let requestDeathNotification = BinderCommand(rawValue: IoctlEncoding.iow("c", 14, 12))
    /// `BC_CLEAR_DEATH_NOTIFICATION`
    public static let clearDeathNotification = BinderCommand(rawValue: IoctlEncoding.iow("c", 15, 12))
    /// `BC_DEAD_BINDER_DONE`
    public static let deadBinderDone = BinderCommand(rawValue: IoctlEncoding.iow("c", 16, 8))
    /// `BC_TRANSACTION_SG`
    public static let transactionSG = BinderCommand(rawValue: IoctlEncoding.iow("c", 17, 72))
    /// `BC_REPLY_SG`
    public static let replySG = BinderCommand(rawValue: IoctlEncoding.iow("c", 18, 72))
    /// `BC_REQUEST_FREEZE_NOTIFICATION` (6.12+)
    public static let requestFreezeNotification = BinderCommand(rawValue: IoctlEncoding.iow("c", 19, 12))
    /// `BC_CLEAR_FREEZE_NOTIFICATION` (6.12+)
    public static let clearFreezeNotification = BinderCommand(rawValue: IoctlEncoding.iow("c", 20, 12))
    /// `BC_FREEZE_NOTIFICATION_DONE` (6.12+)
    public static let freezeNotificationDone = BinderCommand(rawValue: IoctlEncoding.iow("c", 21, 8))

    public static let all: [(String, BinderCommand)] = [
        ("BC_TRANSACTION", .transaction), ("BC_REPLY", .reply), ("BC_ACQUIRE_RESULT", .acquireResult),
        ("BC_FREE_BUFFER", .freeBuffer), ("BC_INCREFS", .increfs), ("BC_ACQUIRE", .acquire),
        ("BC_RELEASE", .release), ("BC_DECREFS", .decrefs), ("BC_INCREFS_DONE", .increfsDone),
        ("BC_ACQUIRE_DONE", .acquireDone), ("BC_ATTEMPT_ACQUIRE", .attemptAcquire),
        ("BC_REGISTER_LOOPER", .registerLooper), ("BC_ENTER_LOOPER", .enterLooper),
        ("BC_EXIT_LOOPER", .exitLooper), ("BC_REQUEST_DEATH_NOTIFICATION", .requestDeathNotification),
        ("BC_CLEAR_DEATH_NOTIFICATION", .clearDeathNotification), ("BC_DEAD_BINDER_DONE", .deadBinderDone),
        ("BC_TRANSACTION_SG", .transactionSG), ("BC_REPLY_SG", .replySG),
        ("BC_REQUEST_FREEZE_NOTIFICATION", .requestFreezeNotification),
        ("BC_CLEAR_FREEZE_NOTIFICATION", .clearFreezeNotification),
        ("BC_FREEZE_NOTIFICATION_DONE", .freezeNotificationDone),
    ]
    /// Payload bytes that follow the code (`_IOC_SIZE`).
    public var payloadSize: Int { IoctlEncoding.size(of: rawValue) }
    public var name: String? { BinderCommand.all.first { $0.1 == self }?.0 }
    public var description: String { name ?? "BC(0x\(String(rawValue, radix: 16)))" }
}

/// BR codes: returns that the driver writes into the read buffer
/// (`enum binder_driver_return_protocol`).
public struct BinderReturn: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// `BR_ERROR` (on the wire only the 4-byte code is written)
    public static let error = BinderReturn(rawValue: IoctlEncoding.ior("r", 0, 4))
    /// `BR_OK` (never emitted; the "no error" sentinel)
    public static let ok = BinderReturn(rawValue: IoctlEncoding.io("r", 1))
    /// `BR_TRANSACTION_SEC_CTX`
    public static let transactionSecCtx = BinderReturn(rawValue: IoctlEncoding.ior("r", 2, 72))
    /// `BR_TRANSACTION`
    public static let transaction = BinderReturn(rawValue: IoctlEncoding.ior("r", 2, 64))
    /// `BR_REPLY`
    public static let reply = BinderReturn(rawValue: IoctlEncoding.ior("r", 3, 64))
    /// `BR_ACQUIRE_RESULT` (never emitted)
    public static let acquireResult = BinderReturn(rawValue: IoctlEncoding.ior("r", 4, 4))
    /// `BR_DEAD_REPLY`
    public static let deadReply = BinderReturn(rawValue: IoctlEncoding.io("r", 5))
    /// `BR_TRANSACTION_COMPLETE`
    public static let transactionComplete = BinderReturn(rawValue: IoctlEncoding.io("r", 6))
    /// `BR_INCREFS`
    public static let increfs = BinderReturn(rawValue: IoctlEncoding.ior("r", 7, 16))
    /// `BR_ACQUIRE`
    public static let acquire = BinderReturn(rawValue: IoctlEncoding.ior("r", 8, 16))
    /// `BR_RELEASE`
    public static let release = BinderReturn(rawValue: IoctlEncoding.ior("r", 9, 16))
    /// `BR_DECREFS`
    public static let decrefs = BinderReturn(rawValue: IoctlEncoding.ior("r", 10, 16))
    /// `BR_ATTEMPT_ACQUIRE` (never emitted)
    public static let attemptAcquire = BinderReturn(rawValue: IoctlEncoding.ior("r", 11, 24))
    /// `BR_NOOP`
    public static let noop = BinderReturn(rawValue: IoctlEncoding.io("r", 12))
    /// `BR_SPAWN_LOOPER`
    public static let spawnLooper = BinderReturn(rawValue: IoctlEncoding.io("r", 13))
    /// `BR_FINISHED` (never emitted)
    public static let finished = BinderReturn(rawValue: IoctlEncoding.io("r", 14))
    /// `BR_DEAD_BINDER`
    public static let deadBinder = BinderReturn(rawValue: IoctlEncoding.ior("r", 15, 8))
    /// `BR_CLEAR_DEATH_NOTIFICATION_DONE`
    public static let clearDeathNotificationDone = BinderReturn(rawValue: IoctlEncoding.ior("r", 16, 8))
    /// `BR_FAILED_REPLY`
    public static let failedReply = BinderReturn(rawValue: IoctlEncoding.io("r", 17))
    /// `BR_FROZEN_REPLY`
    public static let frozenReply = BinderReturn(rawValue: IoctlEncoding.io("r", 18))
    /// `BR_ONEWAY_SPAM_SUSPECT`
    public static let onewaySpamSuspect = BinderReturn(rawValue: IoctlEncoding.io("r", 19))
    /// `BR_TRANSACTION_PENDING_FROZEN`
    public static let transactionPendingFrozen = BinderReturn(rawValue: IoctlEncoding.io("r", 20))
    /// `BR_FROZEN_BINDER` (6.12+)
    public static let frozenBinder = BinderReturn(rawValue: IoctlEncoding.ior("r", 21, 16))
    /// `BR_CLEAR_FREEZE_NOTIFICATION_DONE` (6.12+)
    public static let clearFreezeNotificationDone = BinderReturn(rawValue: IoctlEncoding.ior("r", 22, 8))

    public static let all: [(String, BinderReturn)] = [
        ("BR_ERROR", .error), ("BR_OK", .ok), ("BR_TRANSACTION_SEC_CTX", .transactionSecCtx),
        ("BR_TRANSACTION", .transaction), ("BR_REPLY", .reply), ("BR_ACQUIRE_RESULT", .acquireResult),
        ("BR_DEAD_REPLY", .deadReply), ("BR_TRANSACTION_COMPLETE", .transactionComplete),
        ("BR_INCREFS", .increfs), ("BR_ACQUIRE", .acquire), ("BR_RELEASE", .release), ("BR_DECREFS", .decrefs),
        ("BR_ATTEMPT_ACQUIRE", .attemptAcquire), ("BR_NOOP", .noop), ("BR_SPAWN_LOOPER", .spawnLooper),
        ("BR_FINISHED", .finished), ("BR_DEAD_BINDER", .deadBinder),
        ("BR_CLEAR_DEATH_NOTIFICATION_DONE", .clearDeathNotificationDone), ("BR_FAILED_REPLY", .failedReply),
        ("BR_FROZEN_REPLY", .frozenReply), ("BR_ONEWAY_SPAM_SUSPECT", .onewaySpamSuspect),
        ("BR_TRANSACTION_PENDING_FROZEN", .transactionPendingFrozen), ("BR_FROZEN_BINDER", .frozenBinder),
        ("BR_CLEAR_FREEZE_NOTIFICATION_DONE", .clearFreezeNotificationDone),
    ]
    /// Bytes that follow the code on the wire. BR_ERROR is written without its payload
    /// (`binder_thread_read`, BINDER_WORK_RETURN_ERROR writes only the code).
    public var wirePayloadSize: Int { self == .error ? 0 : IoctlEncoding.size(of: rawValue) }
    public var name: String? { BinderReturn.all.first { $0.1 == self }?.0 }
    public var description: String { name ?? "BR(0x\(String(rawValue, radix: 16)))" }
}

/// `binder_object_header.type` values (`B_PACK_CHARS(c1, c2, c3, B_TYPE_LARGE)`).
public struct BinderObjectType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    static func pack(_ a: Character, _ b: Character, _ c: Character) -> UInt32 {
        UInt32(a.asciiValue!) << 24 | UInt32(b.asciiValue!) << 16 | UInt32(c.asciiValue!) << 8 | 0x85
    }
    /// `BINDER_TYPE_BINDER`
    public static let binder = BinderObjectType(rawValue: pack("s", "b", "*"))
    /// `BINDER_TYPE_WEAK_BINDER`
    public static let weakBinder = BinderObjectType(rawValue: pack("w", "b", "*"))
    /// `BINDER_TYPE_HANDLE`
    public static let handle = BinderObjectType(rawValue: pack("s", "h", "*"))
    /// `BINDER_TYPE_WEAK_HANDLE`
    public static let weakHandle = BinderObjectType(rawValue: pack("w", "h", "*"))
    /// `BINDER_TYPE_FD`
    public static let fd = BinderObjectType(rawValue: pack("f", "d", "*"))
    /// `BINDER_TYPE_FDA`
    public static let fda = BinderObjectType(rawValue: pack("f", "d", "a"))
    /// `BINDER_TYPE_PTR`
    public static let ptr = BinderObjectType(rawValue: pack("p", "t", "*"))

    public static let all: [(String, BinderObjectType)] = [
        ("BINDER_TYPE_BINDER", .binder), ("BINDER_TYPE_WEAK_BINDER", .weakBinder),
        ("BINDER_TYPE_HANDLE", .handle), ("BINDER_TYPE_WEAK_HANDLE", .weakHandle),
        ("BINDER_TYPE_FD", .fd), ("BINDER_TYPE_FDA", .fda), ("BINDER_TYPE_PTR", .ptr),
    ]
    /// Object size used for validation (`binder_get_object`), or nil for an unknown type.
    public var objectSize: Int? {
        switch self {
        case .binder, .weakBinder, .handle, .weakHandle, .fd: return 24
        case .fda: return 32
        case .ptr: return 40
        default: return nil
        }
    }
    public var description: String { BinderObjectType.all.first { $0.1 == self }?.0 ?? "type(0x\(String(rawValue, radix: 16)))" }
}

/// `enum transaction_flags`.
public enum TransactionFlags {
    /// `TF_ONE_WAY`
    public static let oneWay: UInt32 = 0x01
    /// `TF_ROOT_OBJECT`
    public static let rootObject: UInt32 = 0x04
    /// `TF_STATUS_CODE`
    public static let statusCode: UInt32 = 0x08
    /// `TF_ACCEPT_FDS`
    public static let acceptFDs: UInt32 = 0x10
    /// `TF_CLEAR_BUF`
    public static let clearBuf: UInt32 = 0x20
    /// `TF_UPDATE_TXN`
    public static let updateTxn: UInt32 = 0x40
}

/// `flat_binder_object.flags` bits.
public enum FlatBinderFlags {
    /// `FLAT_BINDER_FLAG_PRIORITY_MASK`
    public static let priorityMask: UInt32 = 0xFF
    /// `FLAT_BINDER_FLAG_ACCEPTS_FDS`
    public static let acceptsFDs: UInt32 = 0x100
    /// `FLAT_BINDER_FLAG_TXN_SECURITY_CTX`
    public static let txnSecurityCtx: UInt32 = 0x1000
}

/// `binder_buffer_object.flags` bits.
public enum BufferObjectFlags {
    /// `BINDER_BUFFER_FLAG_HAS_PARENT`
    public static let hasParent: UInt32 = 0x01
}
