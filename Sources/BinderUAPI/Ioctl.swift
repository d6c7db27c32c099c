/// Binder device ioctl numbers (`include/uapi/linux/android/binder.h`, x86_64 layouts).
public struct BinderIoctl: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// The corresponding C constant is `BINDER_WRITE_READ`.
    public static let writeRead = BinderIoctl(rawValue: IoctlEncoding.iowr("b", 1, UInt32(BinderWriteRead.size)))
    /// The corresponding C constant is `BINDER_SET_IDLE_TIMEOUT` (not implemented by the driver).
    public static let setIdleTimeout = BinderIoctl(rawValue: IoctlEncoding.iow("b", 3, 8))
    /// The corresponding C constant is `BINDER_SET_MAX_THREADS`.
    public static let setMaxThreads = BinderIoctl(rawValue: IoctlEncoding.iow("b", 5, 4))
    /// The corresponding C constant is `BINDER_SET_IDLE_PRIORITY` (not implemented by the driver).
    public static let setIdlePriority = BinderIoctl(rawValue: IoctlEncoding.iow("b", 6, 4))
    /// The corresponding C constant is `BINDER_SET_CONTEXT_MGR`.
    public static let setContextMgr = BinderIoctl(rawValue: IoctlEncoding.iow("b", 7, 4))
    /// The corresponding C constant is `BINDER_THREAD_EXIT`.
    public static let threadExit = BinderIoctl(rawValue: IoctlEncoding.iow("b", 8, 4))
    /// The corresponding C constant is `BINDER_VERSION`.
    public static let version = BinderIoctl(rawValue: IoctlEncoding.iowr("b", 9, 4))
    /// The corresponding C constant is `BINDER_GET_NODE_DEBUG_INFO`.
    public static let getNodeDebugInfo = BinderIoctl(rawValue: IoctlEncoding.iowr("b", 11, 24))
    /// The corresponding C constant is `BINDER_GET_NODE_INFO_FOR_REF`.
    public static let getNodeInfoForRef = BinderIoctl(rawValue: IoctlEncoding.iowr("b", 12, 24))
    /// The corresponding C constant is `BINDER_SET_CONTEXT_MGR_EXT`.
    public static let setContextMgrExt = BinderIoctl(rawValue: IoctlEncoding.iow("b", 13, UInt32(FlatBinderObject.size)))
    /// The corresponding C constant is `BINDER_FREEZE`.
    public static let freeze = BinderIoctl(rawValue: IoctlEncoding.iow("b", 14, 12))
    /// The corresponding C constant is `BINDER_GET_FROZEN_INFO`.
    public static let getFrozenInfo = BinderIoctl(rawValue: IoctlEncoding.iowr("b", 15, 12))
    /// The corresponding C constant is `BINDER_ENABLE_ONEWAY_SPAM_DETECTION`.
    public static let enableOnewaySpamDetection = BinderIoctl(rawValue: IoctlEncoding.iow("b", 16, 4))
    /// The corresponding C constant is `BINDER_GET_EXTENDED_ERROR`.
    public static let getExtendedError = BinderIoctl(rawValue: IoctlEncoding.iowr("b", 17, 12))
    /// The corresponding C constant is `BINDER_CTL_ADD` (binderfs `binder-control` only).
    public static let ctlAdd = BinderIoctl(rawValue: IoctlEncoding.iowr("b", 1, 264))

    public static let all: [(String, BinderIoctl)] = [
        ("BINDER_WRITE_READ", .writeRead), ("BINDER_SET_IDLE_TIMEOUT", .setIdleTimeout),
        ("BINDER_SET_MAX_THREADS", .setMaxThreads), ("BINDER_SET_IDLE_PRIORITY", .setIdlePriority),
        ("BINDER_SET_CONTEXT_MGR", .setContextMgr), ("BINDER_THREAD_EXIT", .threadExit),
        ("BINDER_VERSION", .version), ("BINDER_GET_NODE_DEBUG_INFO", .getNodeDebugInfo),
        ("BINDER_GET_NODE_INFO_FOR_REF", .getNodeInfoForRef), ("BINDER_SET_CONTEXT_MGR_EXT", .setContextMgrExt),
        ("BINDER_FREEZE", .freeze), ("BINDER_GET_FROZEN_INFO", .getFrozenInfo),
        ("BINDER_ENABLE_ONEWAY_SPAM_DETECTION", .enableOnewaySpamDetection),
        ("BINDER_GET_EXTENDED_ERROR", .getExtendedError), ("BINDER_CTL_ADD", .ctlAdd),
    ]
    public var description: String {
        BinderIoctl.all.first { $0.1 == self && $0.0 != "BINDER_CTL_ADD" }?.0 ?? "ioctl(0x\(String(rawValue, radix: 16)))"
    }
    /// `BINDER_CURRENT_PROTOCOL_VERSION` on 64-bit.
    public static let currentProtocolVersion: Int32 = 8
}
