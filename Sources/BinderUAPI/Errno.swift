/// Linux errno values (x86_64) that the binder driver returns. The ioctl surface reports
/// them negated, as the kernel's `binder_ioctl` does.
public struct Errno: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }

    /// The corresponding C constant is `EPERM`.
    public static let EPERM = Errno(rawValue: 1)
    /// The corresponding C constant is `ENOENT`.
    public static let ENOENT = Errno(rawValue: 2)
    /// The corresponding C constant is `ESRCH`.
    public static let ESRCH = Errno(rawValue: 3)
    /// The corresponding C constant is `EINTR`.
    public static let EINTR = Errno(rawValue: 4)
    /// The corresponding C constant is `EBADF`.
    public static let EBADF = Errno(rawValue: 9)
    /// The corresponding C constant is `EAGAIN`.
    public static let EAGAIN = Errno(rawValue: 11)
    /// The corresponding C constant is `ENOMEM`.
    public static let ENOMEM = Errno(rawValue: 12)
    /// The corresponding C constant is `EFAULT`.
    public static let EFAULT = Errno(rawValue: 14)
    /// The corresponding C constant is `EBUSY`.
    public static let EBUSY = Errno(rawValue: 16)
    /// The corresponding C constant is `EEXIST`.
    public static let EEXIST = Errno(rawValue: 17)
    /// The corresponding C constant is `ENODEV`.
    public static let ENODEV = Errno(rawValue: 19)
    /// The corresponding C constant is `EINVAL`.
    public static let EINVAL = Errno(rawValue: 22)
    /// The corresponding C constant is `EMFILE`.
    public static let EMFILE = Errno(rawValue: 24)
    /// The corresponding C constant is `ENOSPC`.
    public static let ENOSPC = Errno(rawValue: 28)
    /// The corresponding C constant is `EPROTO`.
    public static let EPROTO = Errno(rawValue: 71)
    /// The corresponding C constant is `EOPNOTSUPP`.
    public static let EOPNOTSUPP = Errno(rawValue: 95)

    /// The value as a kernel return (`-errno`).
    public var negated: Int32 { -rawValue }

    static let names: [Int32: String] = [
        1: "EPERM", 2: "ENOENT", 3: "ESRCH", 4: "EINTR", 9: "EBADF", 11: "EAGAIN", 12: "ENOMEM", 24: "EMFILE",
        14: "EFAULT", 16: "EBUSY", 17: "EEXIST", 19: "ENODEV", 22: "EINVAL", 28: "ENOSPC", 71: "EPROTO",
        95: "EOPNOTSUPP",
    ]
    public var description: String { Errno.names[rawValue] ?? "errno(\(rawValue))" }

    /// Describes a kernel-style return value: `0`, or `-EINVAL` and so on.
    public static func describe(_ ret: Int32) -> String {
        ret >= 0 ? "\(ret)" : "-\(Errno(rawValue: -ret))"
    }
}
