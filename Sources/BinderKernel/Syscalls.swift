#if os(Linux)
import BinderUAPI
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

    /// /proc/self/mem of the child, opened once at its start (`KernelChild.run`) at a harness
    /// fd number; -1 until then.
    static var ownMemory: Int32 = -1

    /// Reads `count` bytes of this process's memory through /proc/self/mem, so that a binder
    /// page the driver has not installed gives an error instead of SIGBUS. Opens nothing: the
    /// file was opened at the child's start (an `open` here could take a low fd number while a
    /// worker's binder read installs received fds).
    static func readOwnMemory(_ address: UInt64, _ count: Int) -> [UInt8]? {
        guard ownMemory >= 0 else { return nil }
        var out = [UInt8](repeating: 0, count: count)
        let n = out.withUnsafeMutableBytes { pread(ownMemory, $0.baseAddress!, count, off_t(Int64(bitPattern: address))) }
        return n == count ? out : nil
    }

    // MARK: - fd numbers of the child

    /// Fds the harness itself keeps open in a scenario process (the pipes to the controller, a
    /// copy of the console, /proc files, the directory of its fds) start here. A scenario process must have exactly fds 0 to 2 below it (the model's
    /// `FdTable`), plus what the scenario's steps and the driver installed; `FdRules.unusedFd`
    /// (1000) is never open.
    static let firstHarnessFd: Int32 = FdRules.unusedFd + 1

    static let fDupfdCloexec: Int32 = 1030
    static let fSetSig: Int32 = 10
    static let fGetSig: Int32 = 11

    /// Moves `fd` to the lowest free number >= `firstHarnessFd` (close-on-exec) and closes the
    /// original. The new number or -errno (the original is closed either way).
    static func moveToHarnessRange(_ fd: Int32) -> Int32 {
        guard fd >= 0 else { return fd }
        if fd >= firstHarnessFd { return fd }
        let moved = fcntl(fd, fDupfdCloexec, firstHarnessFd)
        let e = errno
        Glibc.close(fd)
        return moved >= 0 ? moved : -e
    }

    /// `open(path, O_RDONLY | O_CLOEXEC | flags)` moved into the harness range; -errno on failure.
    static func openHarnessFile(_ path: String, flags: Int32 = 0) -> Int32 {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC | flags)
        return fd >= 0 ? moveToHarnessRange(fd) : -errno
    }

    /// Closes every fd >= `first` (`close_range`, with a loop as fallback).
    static func closeAll(from first: Int32) {
        #if arch(x86_64) || arch(arm64)
        if rawSyscall(436, Int(first), Int(UInt32.max), 0, 0) == 0 { return }
        #endif
        for fd in first..<Int32(4096) { Glibc.close(fd) }
    }

    /// The whole content of a /proc file opened once (`pread` at offset 0 regenerates a
    /// seq_file); nil on error. Opens nothing.
    static func readProcFile(_ fd: Int32) -> String? {
        guard fd >= 0 else { return nil }
        var out = [UInt8](repeating: 0, count: 4096)
        var done = 0
        while true {
            if done == out.count { out += [UInt8](repeating: 0, count: out.count) }
            let n = out.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + done, $0.count - done, off_t(done)) }
            if n < 0, errno == EINTR { continue }
            if n < 0 { return nil }
            if n == 0 { break }
            done += n
        }
        return String(decoding: out[0..<done], as: UTF8.self)
    }

    // MARK: - files a scenario creates

    #if arch(x86_64)
    static let memfdCreateNumber = 319
    #elseif arch(arm64)
    static let memfdCreateNumber = 279
    #endif

    /// The bytes a created file holds.
    static let fileContent = Array("binder-check file\n".utf8)

    /// A pipe's read end holding `fileContent` (the write end is closed), or a memfd holding it,
    /// at the lowest free fd (`pipe` takes the two lowest free fds, or fails with -EMFILE; the
    /// write end is then closed again). The fd or -errno.
    static func newFile(memfd: Bool) -> Int32 {
        if memfd {
            let fd = Int32(truncatingIfNeeded: "binder-check".withCString {
                rawSyscall(memfdCreateNumber, Int(bitPattern: UnsafeRawPointer($0)), 1 /* MFD_CLOEXEC */, 0, 0)
            })
            guard fd >= 0 else { return -errno }
            _ = writeFully(fd, fileContent)
            return fd
        }
        var ends: [Int32] = [-1, -1]
        guard Glibc.pipe(&ends) == 0 else { return -errno }
        _ = writeFully(ends[1], fileContent)
        Glibc.close(ends[1])
        return ends[0]
    }

    /// (st_dev, st_ino) of an open fd; nil when it is not open.
    static func identity(_ fd: Int32) -> (dev: UInt64, ino: UInt64)? {
        var st = stat()
        guard fstat(fd, &st) == 0 else { return nil }
        return (UInt64(st.st_dev), UInt64(st.st_ino))
    }

    /// (st_dev, st_ino) of a path; nil when it does not exist. Opens nothing.
    static func identity(path: String) -> (dev: UInt64, ino: UInt64)? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return (UInt64(st.st_dev), UInt64(st.st_ino))
    }

    /// Raises both `RLIMIT_NOFILE` limits to at least `limit` (as far as allowed).
    static func raiseFdLimit(to limit: UInt32) {
        var r = rlimit()
        guard getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &r) == 0 else { return }
        if r.rlim_max < rlim_t(limit) { r.rlim_max = rlim_t(limit) }
        if r.rlim_cur < rlim_t(limit) { r.rlim_cur = rlim_t(limit) }
        if setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &r) != 0 {
            // Not allowed to raise the hard limit: the soft one up to it.
            guard getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &r) == 0 else { return }
            r.rlim_cur = max(r.rlim_cur, min(rlim_t(limit), r.rlim_max))
            _ = setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &r)
        }
    }

    /// `setrlimit(RLIMIT_NOFILE)` with soft limit `limit`, the hard limit unchanged. 0 or -errno.
    static func setFdLimit(_ limit: UInt32) -> Int32 {
        var r = rlimit()
        guard getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &r) == 0 else { return -errno }
        r.rlim_cur = rlim_t(limit)
        return setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &r) == 0 ? 0 : -errno
    }
}
#endif
