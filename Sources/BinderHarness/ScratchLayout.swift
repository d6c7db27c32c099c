import BinderUAPI

/// Where the runner places ioctl arguments inside each process's scratch region.
enum ScratchLayout {
    static let base = UserMemoryLayout.scratchBase
    /// The ioctl argument (a `binder_write_read` or another struct).
    static let argument = base
    static let argumentCapacity = 0x100
    /// The write buffer of BINDER_WRITE_READ.
    static let writeBuffer = base + 0x100
    static let writeCapacity = 0x7F00
    /// The read buffer (plus slack the kernel may write past `read_size`).
    static let readBuffer = base + 0x8000
    static let readRegion = 0x8000
    /// Transaction payloads: data, offsets arrays and scatter-gather blobs.
    static let payload = base + 0x10000
    static let payloadCapacity = 0x30000

    static func pointer(_ spec: PointerSpec, valid: UInt64) -> UInt64 {
        switch spec {
        case .valid: return valid
        case .null: return 0
        case .unmapped: return UserMemoryLayout.unmappedAddress
        }
    }
}
