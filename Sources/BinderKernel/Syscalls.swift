#if os(Linux)
import Glibc

/// Raw system calls used by the kernel backend, kept in one place. Each returns the kernel's
/// result as `value or -errno`.
/// glibc's `ioctl` is variadic, which Swift cannot call; on x86_64 an integer third argument
/// is passed the same way either way.
@_silgen_name("ioctl")
func rawIoctl(_ fd: Int32, _ request: UInt, _ argument: UInt) -> Int32

/// glibc's `syscall` is variadic too (and written in assembly, so it reads its integer
/// arguments from the registers either way).
@_silgen_name("syscall")
func rawSyscall(_ number: Int, _ a: Int, _ b: Int, _ c: Int, _ d: Int) -> Int

enum Syscalls {
    /// System call numbers as `/proc/<pid>/task/<tid>/syscall` reports them.
    #if arch(x86_64)
    static let ioctlNumber = 16
    static let pollNumber = 7
    static let gettidNumber = 186
    #elseif arch(arm64)
    static let ioctlNumber = 29
    static let pollNumber = 73 // ppoll: arm64 has no poll
    static let gettidNumber = 178
    #endif

    /// `open(O_RDWR|O_CLOEXEC)`, plus `O_NONBLOCK` unless `blocking`.
    static func openBinder(_ path: String, blocking: Bool = false) -> Int32 {
        let fd = Glibc.open(path, O_RDWR | O_CLOEXEC | (blocking ? 0 : O_NONBLOCK))
        return fd >= 0 ? fd : -errno
    }

    /// The calling thread's kernel task id.
    static func gettid() -> Int32 { Int32(truncatingIfNeeded: rawSyscall(gettidNumber, 0, 0, 0, 0)) }

    /// `poll` of `fd` for `POLLIN` with timeout 0, or none when `blocking`, issued as the raw
    /// system call (so that /proc shows `pollNumber` while it sleeps). The `revents`, 0 when
    /// nothing is ready, or -errno.
    static func pollIn(_ fd: Int32, blocking: Bool) -> Int32 {
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let r = withUnsafeMutablePointer(to: &pfd) { p -> Int in
            let address = Int(bitPattern: UnsafeMutableRawPointer(p))
            #if arch(x86_64)
            return rawSyscall(pollNumber, address, 1, blocking ? -1 : 0, 0)
            #else
            // ppoll(fds, 1, timeout: NULL (none) or {0, 0}, sigmask: NULL)
            var zero = timespec(tv_sec: 0, tv_nsec: 0)
            return withUnsafeMutablePointer(to: &zero) { z in
                rawSyscall(pollNumber, address, 1, blocking ? 0 : Int(bitPattern: UnsafeMutableRawPointer(z)), 0)
            }
            #endif
        }
        if r < 0 { return -errno }
        return r == 0 ? 0 : Int32(pfd.revents)
    }

    /// `dup(fd)` then `close` of the duplicate: `binder_flush` without a release. 0 or -errno.
    static func closeDuplicate(_ fd: Int32) -> Int32 {
        let d = Glibc.dup(fd)
        guard d >= 0 else { return -errno }
        return closeFD(d)
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
