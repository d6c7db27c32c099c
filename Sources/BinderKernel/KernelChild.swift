#if os(Linux)
import BinderUAPI
import Glibc

/// The child role: one per scenario process. It owns the binder fd, the mapping, the scratch
/// region and one OS thread per scenario thread, and executes the controller's requests one at
/// a time from stdin, answering on stdout.
public enum KernelChild {
    public static func run(devicePath: String) -> Never {
        guard Syscalls.mapScratch(at: UserMemoryLayout.scratchBase, size: UserMemoryLayout.scratchSize) else {
            fputs("kernel child: cannot map scratch region: errno \(errno)\n", stderr)
            if let maps = KernelBackend.readText("/proc/self/maps") { fputs(maps, stderr) }
            exit(3)
        }
        var fd: Int32 = -1
        var mappingBase: UInt64 = 0
        var mappingLength = 0
        var workers: [Int: WorkerThread] = [:]
        let scratch = UnsafeMutableRawPointer(bitPattern: UInt(UserMemoryLayout.scratchBase))!

        while true {
            guard let header = Syscalls.readFully(0, ChildRequest.headerSize) else { exit(0) }
            let op = ChildOp(rawValue: header[0]) ?? .exit
            let thread = Int(header[1])
            let a = header.le64(at: 2), b = header.le64(at: 10)
            let length = Int(header.le32(at: 18))
            let payload = length > 0 ? (Syscalls.readFully(0, length) ?? []) : []
            var reply = ChildReply(result: 0)
            switch op {
            case .open:
                fd = Syscalls.openBinder(devicePath)
                reply.result = fd >= 0 ? 0 : Int64(fd)
            case .mmap:
                let r = Syscalls.mapBinder(fd, length: Int(a), prot: Int32(truncatingIfNeeded: b))
                if r >= 0 { mappingBase = UInt64(r); mappingLength = Int(a) }
                reply.result = r
            case .munmap:
                reply.result = Int64(Syscalls.unmap(mappingBase, length: mappingLength))
                // The range may be reused by the child's own allocations: never read it again.
                if reply.result == 0 { mappingBase = 0; mappingLength = 0 }
            case .close:
                reply.result = Int64(Syscalls.closeFD(fd))
                fd = -1
            case .ioctl:
                let worker = workers[thread] ?? WorkerThread()
                workers[thread] = worker
                let f = fd
                reply.result = Int64(worker.run { Syscalls.ioctl(f, UInt32(truncatingIfNeeded: a), b) })
            case .writeUser:
                if UserMemoryLayout.contains(a, count: payload.count) {
                    payload.withUnsafeBytes { (scratch + Int(a - UserMemoryLayout.scratchBase)).copyMemory(from: $0.baseAddress!, byteCount: payload.count) }
                }
            case .readUser:
                let count = Int(b)
                if UserMemoryLayout.contains(a, count: count) {
                    reply.payload = Array(UnsafeRawBufferPointer(start: scratch + Int(a - UserMemoryLayout.scratchBase), count: count))
                }
            case .readMapping:
                if mappingBase != 0, let bytes = Syscalls.readOwnMemory(mappingBase &+ a, Int(b)) {
                    reply.payload = bytes
                } else {
                    reply.result = -1
                }
            case .pid:
                reply.result = Int64(getpid())
            case .exit:
                _ = Syscalls.writeFully(1, reply.bytes)
                exit(0)
            }
            guard Syscalls.writeFully(1, reply.bytes) else { exit(0) }
        }
    }
}
#endif
