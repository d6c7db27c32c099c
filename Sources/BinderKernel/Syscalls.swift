#if os(Linux)
import Glibc

/// Raw system calls used by the kernel backend, kept in one place. Each returns the kernel's
/// result as `value or -errno`.
/// glibc's `ioctl` is variadic, which Swift cannot call; on x86_64 an integer third argument
/// is passed the same way either way.
@_silgen_name("ioctl")
func rawIoctl(_ fd: Int32, _ request: UInt, _ argument: UInt) -> Int32

enum Syscalls {
    static func openBinder(_ path: String) -> Int32 {
        let fd = Glibc.open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC)
        return fd >= 0 ? fd : -errno
    }

    /// `mmap(NULL, length, prot, MAP_PRIVATE, fd, 0)`; the address or -errno.
    static func mapBinder(_ fd: Int32, length: Int, prot: Int32) -> Int64 {
        let p = Glibc.mmap(nil, length, prot, MAP_PRIVATE, fd, 0)
        if p == MAP_FAILED { return Int64(-errno) }
        return Int64(Int(bitPattern: p))
    }

    static func unmap(_ address: UInt64, length: Int) -> Int32 {
        Glibc.munmap(UnsafeMutableRawPointer(bitPattern: UInt(address)), length) == 0 ? 0 : -errno
    }

    static func closeFD(_ fd: Int32) -> Int32 { Glibc.close(fd) == 0 ? 0 : -errno }

    static func ioctl(_ fd: Int32, _ command: UInt32, _ argument: UInt64) -> Int32 {
        let r = rawIoctl(fd, UInt(command), UInt(argument))
        return r >= 0 ? r : -errno
    }

    /// Maps the harness scratch region at its fixed address.
    static func mapScratch(at address: UInt64, size: Int) -> Bool {
        let p = Glibc.mmap(UnsafeMutableRawPointer(bitPattern: UInt(address)), size, PROT_READ | PROT_WRITE,
                           MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0)
        return p != MAP_FAILED && UInt64(UInt(bitPattern: p)) == address
    }

    static func readFully(_ fd: Int32, _ count: Int) -> [UInt8]? {
        var out = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let n = out.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + done, count - done) }
            if n < 0, errno == EINTR { continue }
            if n <= 0 { return nil }
            done += n
        }
        return out
    }

    static func writeFully(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + done, bytes.count - done) }
            if n < 0, errno == EINTR { continue }
            if n <= 0 { return false }
            done += n
        }
        return true
    }

    /// Reads `count` bytes of this process's memory through /proc/self/mem, so that a binder
    /// page the driver has not installed gives an error instead of SIGBUS.
    static func readOwnMemory(_ address: UInt64, _ count: Int) -> [UInt8]? {
        let fd = Glibc.open("/proc/self/mem", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { Glibc.close(fd) }
        var out = [UInt8](repeating: 0, count: count)
        let n = out.withUnsafeMutableBytes { pread(fd, $0.baseAddress!, count, off_t(Int64(bitPattern: address))) }
        return n == count ? out : nil
    }
}
#endif
