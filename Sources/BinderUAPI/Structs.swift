/// `struct binder_write_read` (48 bytes).
public struct BinderWriteRead: Equatable, Sendable {
    public static let size = 48
    public var writeSize: UInt64 = 0
    public var writeConsumed: UInt64 = 0
    public var writeBuffer: UInt64 = 0
    public var readSize: UInt64 = 0
    public var readConsumed: UInt64 = 0
    public var readBuffer: UInt64 = 0
    public init(writeSize: UInt64 = 0, writeConsumed: UInt64 = 0, writeBuffer: UInt64 = 0,
                readSize: UInt64 = 0, readConsumed: UInt64 = 0, readBuffer: UInt64 = 0) {
        self.writeSize = writeSize; self.writeConsumed = writeConsumed; self.writeBuffer = writeBuffer
        self.readSize = readSize; self.readConsumed = readConsumed; self.readBuffer = readBuffer
    }
    public init(bytes b: [UInt8]) {
        writeSize = b.le64(at: 0); writeConsumed = b.le64(at: 8); writeBuffer = b.le64(at: 16)
        readSize = b.le64(at: 24); readConsumed = b.le64(at: 32); readBuffer = b.le64(at: 40)
    }
    public var bytes: [UInt8] {
        var b: [UInt8] = []; b.reserveCapacity(48)
        for v in [writeSize, writeConsumed, writeBuffer, readSize, readConsumed, readBuffer] { b.appendLE64(v) }
        return b
    }
}

/// `struct binder_transaction_data` (64 bytes); the `_sg` form adds `buffers_size` at 64.
public struct TransactionData: Equatable, Sendable {
    public static let size = 64
    /// BC: only the low 32 bits (handle) are read. BR: the 64-bit node ptr.
    public var target: UInt64 = 0
    public var cookie: UInt64 = 0
    public var code: UInt32 = 0
    public var flags: UInt32 = 0
    public var senderPID: Int32 = 0
    public var senderEUID: UInt32 = 0
    public var dataSize: UInt64 = 0
    public var offsetsSize: UInt64 = 0
    public var buffer: UInt64 = 0
    public var offsets: UInt64 = 0
    public init(target: UInt64 = 0, cookie: UInt64 = 0, code: UInt32 = 0, flags: UInt32 = 0, senderPID: Int32 = 0,
                senderEUID: UInt32 = 0, dataSize: UInt64 = 0, offsetsSize: UInt64 = 0, buffer: UInt64 = 0, offsets: UInt64 = 0) {
        self.target = target; self.cookie = cookie; self.code = code; self.flags = flags; self.senderPID = senderPID
        self.senderEUID = senderEUID; self.dataSize = dataSize; self.offsetsSize = offsetsSize
        self.buffer = buffer; self.offsets = offsets
    }
    public init(bytes b: [UInt8], at o: Int = 0) {
        target = b.le64(at: o); cookie = b.le64(at: o + 8); code = b.le32(at: o + 16); flags = b.le32(at: o + 20)
        senderPID = Int32(bitPattern: b.le32(at: o + 24)); senderEUID = b.le32(at: o + 28)
        dataSize = b.le64(at: o + 32); offsetsSize = b.le64(at: o + 40); buffer = b.le64(at: o + 48); offsets = b.le64(at: o + 56)
    }
    public var handle: UInt32 { UInt32(truncatingIfNeeded: target) }
    public var bytes: [UInt8] {
        var b: [UInt8] = []; b.reserveCapacity(64)
        b.appendLE64(target); b.appendLE64(cookie); b.appendLE32(code); b.appendLE32(flags)
        b.appendLE32(UInt32(bitPattern: senderPID)); b.appendLE32(senderEUID)
        b.appendLE64(dataSize); b.appendLE64(offsetsSize); b.appendLE64(buffer); b.appendLE64(offsets)
        return b
    }
}

/// `struct flat_binder_object` (24 bytes): BINDER, WEAK_BINDER, HANDLE, WEAK_HANDLE.
public struct FlatBinderObject: Equatable, Sendable {
    public static let size = 24
    public var type: BinderObjectType
    public var flags: UInt32
    /// `binder` (u64) or `handle` (u32) union.
    public var binderOrHandle: UInt64
    public var cookie: UInt64
    public init(type: BinderObjectType, flags: UInt32 = 0, binderOrHandle: UInt64 = 0, cookie: UInt64 = 0) {
        self.type = type; self.flags = flags; self.binderOrHandle = binderOrHandle; self.cookie = cookie
    }
    public init(bytes b: [UInt8], at o: Int = 0) {
        type = BinderObjectType(rawValue: b.le32(at: o)); flags = b.le32(at: o + 4)
        binderOrHandle = b.le64(at: o + 8); cookie = b.le64(at: o + 16)
    }
    public var handle: UInt32 { UInt32(truncatingIfNeeded: binderOrHandle) }
    public var bytes: [UInt8] {
        var b: [UInt8] = []; b.reserveCapacity(24)
        b.appendLE32(type.rawValue); b.appendLE32(flags); b.appendLE64(binderOrHandle); b.appendLE64(cookie)
        return b
    }
}

/// Sizes and field offsets of the remaining UAPI structs, checked against the C header in tests.
public enum StructLayout {
    /// `struct binder_transaction_data_sg`
    public static let transactionDataSG = 72
    /// `struct binder_transaction_data_secctx`
    public static let transactionDataSecctx = 72
    /// `struct binder_ptr_cookie`
    public static let ptrCookie = 16
    /// `struct binder_handle_cookie` (packed)
    public static let handleCookie = 12
    /// `struct binder_pri_desc`
    public static let priDesc = 8
    /// `struct binder_pri_ptr_cookie`
    public static let priPtrCookie = 24
    /// `struct binder_version`
    public static let version = 4
    /// `struct binder_node_debug_info`
    public static let nodeDebugInfo = 24
    /// `struct binder_node_info_for_ref`
    public static let nodeInfoForRef = 24
    /// `struct binder_freeze_info`
    public static let freezeInfo = 12
    /// `struct binder_frozen_status_info`
    public static let frozenStatusInfo = 12
    /// `struct binder_frozen_state_info` (6.12+)
    public static let frozenStateInfo = 16
    /// `struct binder_extended_error`
    public static let extendedError = 12
    /// `struct binder_fd_object`
    public static let fdObject = 24
    /// `struct binder_buffer_object`
    public static let bufferObject = 40
    /// `struct binder_fd_array_object`
    public static let fdArrayObject = 32
    /// `struct binderfs_device`
    public static let binderfsDevice = 264
    /// `sizeof(struct binder_transaction_data_secctx) + sizeof(uint32_t)`: the room that
    /// `binder_thread_read` demands before it dequeues any work item.
    public static let readRoomPerItem = 76
}

/// Memory-map constants the driver applies (`binder_alloc_mmap_handler`).
public enum MmapRules {
    /// Only the first 4 MiB of a mapping are used (`SZ_4M`).
    public static let maxBufferSize: UInt64 = 4 * 1024 * 1024
    /// `PROT_READ`
    public static let protRead: UInt32 = 1
    /// `PROT_WRITE`: forbidden (`FORBIDDEN_MMAP_FLAGS`), gives -EPERM.
    public static let protWrite: UInt32 = 2
    public static let pageSize: UInt64 = 4096
}
