import BinderUAPI

/// Where the runner places ioctl arguments and buffers inside a process's scratch region.
///
/// Each thread has its own argument and read buffer, because a parked thread's
/// `binder_write_read` and read buffer are written back by the driver when it wakes, after other
/// threads of its process have run steps of their own. The write buffer and payloads are shared:
/// the driver reads them only before a call can park.
enum ScratchLayout {
    static let base = UserMemoryLayout.scratchBase
    static let argumentCapacity = 0x100
    /// The ioctl argument of `thread` (a `binder_write_read` or another struct).
    static func argument(_ thread: ThreadIndex) -> UInt64 { base + UInt64(thread * argumentCapacity) }
    /// The write buffer of BINDER_WRITE_READ.
    static let writeBuffer = base + 0x800
    static let writeCapacity = 0x7800
    /// Room for one thread's read buffer: `WriteRead.maxReadSize` plus slack the kernel may
    /// write past `read_size`.
    static let readRegion = 0x4400
    /// The read buffer of `thread`.
    static func readBuffer(_ thread: ThreadIndex) -> UInt64 { base + 0x8000 + UInt64(thread * readRegion) }
    /// Transaction payloads: data, offsets arrays and scatter-gather blobs.
    static let payload = base + 0x22000
    static let payloadCapacity = 0x1E000

    static func pointer(_ spec: PointerSpec, valid: UInt64) -> UInt64 {
        switch spec {
        case .valid: return valid
        case .null: return 0
        case .unmapped: return UserMemoryLayout.unmappedAddress
        }
    }
}
