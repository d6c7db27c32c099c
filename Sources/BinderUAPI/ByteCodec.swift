/// Little-endian reads and writes on byte arrays, the wire format of every binder struct.
public extension Array where Element == UInt8 {
    func le32(at offset: Int) -> UInt32 {
        UInt32(self[offset]) | UInt32(self[offset + 1]) << 8 | UInt32(self[offset + 2]) << 16 | UInt32(self[offset + 3]) << 24
    }
    func le64(at offset: Int) -> UInt64 { UInt64(le32(at: offset)) | UInt64(le32(at: offset + 4)) << 32 }
    mutating func putLE32(_ value: UInt32, at offset: Int) {
        self[offset] = UInt8(truncatingIfNeeded: value)
        self[offset + 1] = UInt8(truncatingIfNeeded: value >> 8)
        self[offset + 2] = UInt8(truncatingIfNeeded: value >> 16)
        self[offset + 3] = UInt8(truncatingIfNeeded: value >> 24)
    }
    mutating func putLE64(_ value: UInt64, at offset: Int) {
        putLE32(UInt32(truncatingIfNeeded: value), at: offset)
        putLE32(UInt32(truncatingIfNeeded: value >> 32), at: offset + 4)
    }
    mutating func appendLE32(_ value: UInt32) {
        append(UInt8(truncatingIfNeeded: value)); append(UInt8(truncatingIfNeeded: value >> 8))
        append(UInt8(truncatingIfNeeded: value >> 16)); append(UInt8(truncatingIfNeeded: value >> 24))
    }
    mutating func appendLE64(_ value: UInt64) {
        appendLE32(UInt32(truncatingIfNeeded: value)); appendLE32(UInt32(truncatingIfNeeded: value >> 32))
    }
}

/// Rounds up to a multiple of 8 (the kernel's `ALIGN(x, sizeof(u64))`), or nil on overflow.
@inlinable public func align8(_ x: UInt64) -> UInt64? {
    let (s, o) = x.addingReportingOverflow(7)
    return o ? nil : s & ~7
}
