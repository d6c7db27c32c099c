/// The Linux `_IOC` encoding used by every binder ioctl, BC and BR code:
/// `dir << 30 | size << 16 | type << 8 | nr` (asm-generic/ioctl.h).
public enum IoctlEncoding {
    public static let none: UInt32 = 0
    public static let write: UInt32 = 1
    public static let read: UInt32 = 2

    /// The corresponding C macro is `_IOC(dir, type, nr, size)`.
    public static func ioc(_ dir: UInt32, _ type: Character, _ nr: UInt32, _ size: UInt32) -> UInt32 {
        (dir << 30) | (size << 16) | (UInt32(type.asciiValue!) << 8) | nr
    }
    /// `_IO(type, nr)`
    public static func io(_ type: Character, _ nr: UInt32) -> UInt32 { ioc(none, type, nr, 0) }
    /// `_IOW(type, nr, size)`
    public static func iow(_ type: Character, _ nr: UInt32, _ size: UInt32) -> UInt32 { ioc(write, type, nr, size) }
    /// `_IOR(type, nr, size)`
    public static func ior(_ type: Character, _ nr: UInt32, _ size: UInt32) -> UInt32 { ioc(read, type, nr, size) }
    /// `_IOWR(type, nr, size)`
    public static func iowr(_ type: Character, _ nr: UInt32, _ size: UInt32) -> UInt32 { ioc(write | read, type, nr, size) }

    /// The size field (`_IOC_SIZE`) of an encoded number.
    public static func size(of code: UInt32) -> Int { Int((code >> 16) & 0x3FFF) }
}
