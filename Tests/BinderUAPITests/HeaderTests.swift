import BinderUAPI
import CBinderHeader
import Testing

/// The host's `linux/android/binder.h` (Debian linux-libc-dev, 6.1) as a name → value table.
private let header: [String: UInt64] = {
    var count = 0
    let table = binder_header_table(&count)!
    var result: [String: UInt64] = [:]
    for i in 0..<count { result[String(cString: table[i].name)] = table[i].value }
    return result
}()

private func expectHeader(_ name: String, _ value: UInt64, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(header[name] != nil, "\(name) missing from header table", sourceLocation: sourceLocation)
    #expect(header[name] == value, "\(name): header \(String(header[name] ?? 0, radix: 16)) vs ours \(String(value, radix: 16))",
            sourceLocation: sourceLocation)
}

/// Numbers added after 6.1 (freeze notifications, TF_UPDATE_TXN pending) are not in the host header.
private let newerThanHostHeader: Set<String> = [
    "BC_REQUEST_FREEZE_NOTIFICATION", "BC_CLEAR_FREEZE_NOTIFICATION", "BC_FREEZE_NOTIFICATION_DONE",
    "BR_TRANSACTION_PENDING_FROZEN", "BR_FROZEN_BINDER", "BR_CLEAR_FREEZE_NOTIFICATION_DONE",
]

@Test func ioctlNumbersMatchHeader() {
    for (name, ioctl) in BinderIoctl.all { expectHeader(name, UInt64(ioctl.rawValue)) }
    expectHeader("BINDER_CURRENT_PROTOCOL_VERSION", UInt64(BinderIoctl.currentProtocolVersion))
}

@Test func commandCodesMatchHeader() {
    for (name, code) in BinderCommand.all where !newerThanHostHeader.contains(name) {
        expectHeader(name, UInt64(code.rawValue))
    }
}

@Test func returnCodesMatchHeader() {
    for (name, code) in BinderReturn.all where !newerThanHostHeader.contains(name) {
        expectHeader(name, UInt64(code.rawValue))
    }
}

/// 6.12 additions, checked against the `_IOW`/`_IOR`/`_IO` formula and the 6.12 header's declarations.
@Test func newerCodesFollowTheIoctlFormula() {
    func ioc(_ dir: UInt32, _ type: UInt8, _ nr: UInt32, _ size: UInt32) -> UInt32 {
        dir << 30 | size << 16 | UInt32(type) << 8 | nr
    }
    let c = UInt8(ascii: "c"), r = UInt8(ascii: "r")
    #expect(BinderCommand.requestFreezeNotification.rawValue == ioc(1, c, 19, 12))
    #expect(BinderCommand.clearFreezeNotification.rawValue == ioc(1, c, 20, 12))
    #expect(BinderCommand.freezeNotificationDone.rawValue == ioc(1, c, 21, 8))
    #expect(BinderReturn.transactionPendingFrozen.rawValue == ioc(0, r, 20, 0))
    #expect(BinderReturn.frozenBinder.rawValue == ioc(2, r, 21, 16))
    #expect(BinderReturn.clearFreezeNotificationDone.rawValue == ioc(2, r, 22, 8))
    #expect(StructLayout.frozenStateInfo == 16)
}

@Test func objectTypesAndFlagsMatchHeader() {
    for (name, type) in BinderObjectType.all { expectHeader(name, UInt64(type.rawValue)) }
    expectHeader("TF_ONE_WAY", UInt64(TransactionFlags.oneWay))
    expectHeader("TF_ROOT_OBJECT", UInt64(TransactionFlags.rootObject))
    expectHeader("TF_STATUS_CODE", UInt64(TransactionFlags.statusCode))
    expectHeader("TF_ACCEPT_FDS", UInt64(TransactionFlags.acceptFDs))
    expectHeader("TF_CLEAR_BUF", UInt64(TransactionFlags.clearBuf))
    expectHeader("TF_UPDATE_TXN", UInt64(TransactionFlags.updateTxn))
    expectHeader("FLAT_BINDER_FLAG_PRIORITY_MASK", UInt64(FlatBinderFlags.priorityMask))
    expectHeader("FLAT_BINDER_FLAG_ACCEPTS_FDS", UInt64(FlatBinderFlags.acceptsFDs))
    expectHeader("FLAT_BINDER_FLAG_TXN_SECURITY_CTX", UInt64(FlatBinderFlags.txnSecurityCtx))
    expectHeader("BINDER_BUFFER_FLAG_HAS_PARENT", UInt64(BufferObjectFlags.hasParent))
}

@Test func structLayoutsMatchHeader() {
    expectHeader("sizeof(struct binder_write_read)", UInt64(BinderWriteRead.size))
    expectHeader("sizeof(struct binder_transaction_data)", UInt64(TransactionData.size))
    expectHeader("sizeof(struct flat_binder_object)", UInt64(FlatBinderObject.size))
    let sizes: [(String, Int)] = [
        ("binder_transaction_data_sg", StructLayout.transactionDataSG),
        ("binder_transaction_data_secctx", StructLayout.transactionDataSecctx),
        ("binder_fd_object", StructLayout.fdObject), ("binder_buffer_object", StructLayout.bufferObject),
        ("binder_fd_array_object", StructLayout.fdArrayObject), ("binder_ptr_cookie", StructLayout.ptrCookie),
        ("binder_handle_cookie", StructLayout.handleCookie), ("binder_pri_desc", StructLayout.priDesc),
        ("binder_pri_ptr_cookie", StructLayout.priPtrCookie), ("binder_version", StructLayout.version),
        ("binder_node_debug_info", StructLayout.nodeDebugInfo),
        ("binder_node_info_for_ref", StructLayout.nodeInfoForRef), ("binder_freeze_info", StructLayout.freezeInfo),
        ("binder_frozen_status_info", StructLayout.frozenStatusInfo),
        ("binder_extended_error", StructLayout.extendedError), ("binderfs_device", StructLayout.binderfsDevice),
    ]
    for (name, size) in sizes { expectHeader("sizeof(struct \(name))", UInt64(size)) }
    // Field offsets our codecs use.
    let wr: [(String, UInt64)] = [("write_size", 0), ("write_consumed", 8), ("write_buffer", 16),
                                  ("read_size", 24), ("read_consumed", 32), ("read_buffer", 40)]
    for (f, o) in wr { expectHeader("offsetof(struct binder_write_read,\(f))", o) }
    let td: [(String, UInt64)] = [("target", 0), ("cookie", 8), ("code", 16), ("flags", 20), ("sender_pid", 24),
                                  ("sender_euid", 28), ("data_size", 32), ("offsets_size", 40),
                                  ("data.ptr.buffer", 48), ("data.ptr.offsets", 56)]
    for (f, o) in td { expectHeader("offsetof(struct binder_transaction_data,\(f))", o) }
    let fb: [(String, UInt64)] = [("hdr.type", 0), ("flags", 4), ("binder", 8), ("handle", 8), ("cookie", 16)]
    for (f, o) in fb { expectHeader("offsetof(struct flat_binder_object,\(f))", o) }
}

@Test func codecsRoundTrip() {
    let td = TransactionData(target: 7, cookie: 9, code: 0xabcd, flags: 0x11, senderPID: -3, senderEUID: 1000,
                             dataSize: 24, offsetsSize: 8, buffer: 0x1000_0000, offsets: 0x1000_0018)
    #expect(td.bytes.count == 64)
    #expect(TransactionData(bytes: td.bytes) == td)
    let bwr = BinderWriteRead(writeSize: 1, writeConsumed: 2, writeBuffer: 3, readSize: 4, readConsumed: 5, readBuffer: 6)
    #expect(BinderWriteRead(bytes: bwr.bytes) == bwr)
    let fbo = FlatBinderObject(type: .binder, flags: 0x17f, binderOrHandle: 0x1234, cookie: 0x55)
    #expect(FlatBinderObject(bytes: fbo.bytes) == fbo)
}
