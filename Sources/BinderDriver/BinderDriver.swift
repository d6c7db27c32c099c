import BinderUAPI

/// Simulated OS process: scratch memory, its fd table, and its binder fd/mapping state.
final class SimProcess {
    var scratch: [UInt8]
    var fds = FdTable()
    /// The fd of the current proc's binder file, while open.
    var binderFd: Int32?
    var fdOpen: Bool { binderFd != nil }
    /// The current proc: the one the last `open` made, until it is released (it outlives its fd
    /// and mapping while another holder of its file, such as a received copy, remains).
    var proc: Proc?
    var mapped = false
    /// This process's procs that are not released yet, in open order (`binder_procs` entries
    /// with its pid): an earlier proc kept alive by a copy of its file, then `proc`.
    var openProcs: [Proc] = []
    init() { scratch = [UInt8](repeating: 0, count: UserMemoryLayout.scratchSize) }
}

let BR_OK = BinderReturn.ok.rawValue

/// The optimized Binder driver (Linux 6.12 `drivers/android/binder.c` semantics).
public final class BinderDriver: BinderBackend {
    public var backendName: String { "driver" }
    var procs: [SimProcess]
    public internal(set) var copiedBytes: UInt64 = 0
    var lastID = 0
    var ctxMgrNode: Node?
    var ctxMgrUIDSet = false
    /// Every cyclic object this driver allocated (see Teardown.swift): the object graph has
    /// reference cycles (proc <-> thread/node/ref, transaction chains, intrusive work lists), and
    /// objects outlive their proc, so `deinit` breaks the cycles through these registries.
    var allProcs: [Proc] = []
    var allThreads: [Thread] = []
    var allNodes: [Node] = []
    var allTransactions: [Transaction] = []
    /// Parked threads woken during the current call, in wake order; they run when it ends.
    var wokenThreads: [Thread] = []
    /// Parked threads that returned, not yet taken by the harness.
    var completions: [ThreadCompletion] = []
    /// Driver time in milliseconds: only `sleep` advances it.
    var clock: UInt64 = 0
    /// Threads parked in a freeze wait (may hold stale entries; see `freezeWaiterThreads`).
    var freezeWaiters: [Thread] = []
    /// Files made by `newFile` so far: the next one's index.
    var filesCreated = 0
    /// Final `fput`s queued as task work by `binder_deferred_fd_close`, run when the call returns.
    var pendingFputs: [OpenFile] = []
    /// Procs released during the current call; their arenas go when it returns (a release may
    /// happen in the middle of an operation on the proc's buffers).
    var releasedProcs: [Proc] = []

    public init(processCount: Int) {
        procs = (0..<max(0, processCount)).map { _ in SimProcess() }
    }

    deinit { tearDown() }

    public func pid(of process: ProcessIndex) -> Int32 { Int32(truncatingIfNeeded: 100 + process) }

    public func writeUser(_ process: ProcessIndex, address: UInt64, bytes: [UInt8]) {
        guard UserMemoryLayout.contains(address, count: bytes.count) else { return }
        let o = Int(address - UserMemoryLayout.scratchBase)
        procs[process].scratch.replaceSubrange(o..<(o + bytes.count), with: bytes)
    }
    public func readUser(_ process: ProcessIndex, address: UInt64, count: Int) -> [UInt8] {
        guard UserMemoryLayout.contains(address, count: count) else { return [] }
        let o = Int(address - UserMemoryLayout.scratchBase)
        return Array(procs[process].scratch[o..<(o + count)])
    }
    public func readMapping(_ process: ProcessIndex, offset: UInt64, count: Int) -> [UInt8]? {
        let sp = procs[process]
        guard sp.mapped, let p = sp.proc, count >= 0 else { return nil }
        let (end, ov) = offset.addingReportingOverflow(UInt64(count))
        guard !ov, end <= UInt64(p.alloc.bufferSize) else { return nil }
        return Array(p.alloc.arena[Int(offset)..<Int(end)])
    }

    // MARK: user copies

    @inline(__always) func userOK(_ p: Proc, _ addr: UInt64, _ n: Int) -> Bool { UserMemoryLayout.contains(addr, count: n) }
    func getU32(_ p: Proc, _ addr: UInt64) -> UInt32? {
        guard UserMemoryLayout.contains(addr, count: 4) else { return nil }
        let o = Int(addr - UserMemoryLayout.scratchBase)
        let s = procs[p.index].scratch
        return UInt32(s[o]) | UInt32(s[o + 1]) << 8 | UInt32(s[o + 2]) << 16 | UInt32(s[o + 3]) << 24
    }
    func getU64(_ p: Proc, _ addr: UInt64) -> UInt64? {
        guard let lo = getU32(p, addr), UserMemoryLayout.contains(addr, count: 8), let hi = getU32(p, addr &+ 4) else { return nil }
        return UInt64(lo) | UInt64(hi) << 32
    }
    func getBytes(_ p: Proc, _ addr: UInt64, _ n: Int) -> [UInt8]? {
        guard UserMemoryLayout.contains(addr, count: n) else { return nil }
        let o = Int(addr - UserMemoryLayout.scratchBase)
        return Array(procs[p.index].scratch[o..<(o + n)])
    }
    func putU32(_ p: Proc, _ addr: UInt64, _ v: UInt32) -> Bool {
        guard UserMemoryLayout.contains(addr, count: 4) else { return false }
        let o = Int(addr - UserMemoryLayout.scratchBase)
        procs[p.index].scratch.withUnsafeMutableBufferPointer { b in
            b[o] = UInt8(truncatingIfNeeded: v); b[o + 1] = UInt8(truncatingIfNeeded: v >> 8)
            b[o + 2] = UInt8(truncatingIfNeeded: v >> 16); b[o + 3] = UInt8(truncatingIfNeeded: v >> 24)
        }
        return true
    }
    func putU64(_ p: Proc, _ addr: UInt64, _ v: UInt64) -> Bool {
        guard UserMemoryLayout.contains(addr, count: 8) else { return false }
        _ = putU32(p, addr, UInt32(truncatingIfNeeded: v)); _ = putU32(p, addr + 4, UInt32(truncatingIfNeeded: v >> 32))
        return true
    }
    func putBytes(_ p: Proc, _ addr: UInt64, _ b: [UInt8]) -> Bool {
        guard UserMemoryLayout.contains(addr, count: b.count) else { return false }
        let o = Int(addr - UserMemoryLayout.scratchBase)
        procs[p.index].scratch.replaceSubrange(o..<(o + b.count), with: b)
        return true
    }
    /// `binder_alloc_copy_user_to_buffer` (all-or-nothing): sender scratch → target arena. Counts copied bytes.
    func copyUserToBuffer(from sender: Proc, _ uaddr: UInt64, to target: Proc, block: Int32, offset: UInt64, count: UInt64) -> Bool {
        guard checkBuffer(target, block, offset, count) else { return false }
        if count == 0 { return true }
        guard count <= UInt64(UserMemoryLayout.scratchSize), UserMemoryLayout.contains(uaddr, count: Int(count)) else { return false }
        let so = Int(uaddr - UserMemoryLayout.scratchBase)
        let dst = target.alloc.blocks[Int(block)].start + Int(offset)
        let n = Int(count)
        procs[sender.index].scratch.withUnsafeBufferPointer { src in
            target.alloc.arena.withUnsafeMutableBufferPointer { a in
                for i in 0..<n { a[dst + i] = src[so + i] }
            }
        }
        copiedBytes &+= count
        return true
    }
    /// `check_buffer` in binder_alloc.c.
    func checkBuffer(_ p: Proc, _ b: Int32, _ offset: UInt64, _ bytes: UInt64) -> Bool {
        let bs = UInt64(p.alloc.size(of: b))
        let blk = p.alloc.blocks[Int(b)]
        return bs >= bytes && offset <= bs - bytes && offset % 4 == 0 && !blk.free && (!blk.allowUserFree || p.alloc.txn[Int(b)] == nil)
    }
    func bufWrite(_ p: Proc, _ b: Int32, _ offset: UInt64, _ bytes: [UInt8]) -> Bool {
        guard checkBuffer(p, b, offset, UInt64(bytes.count)) else { return false }
        let s = p.alloc.blocks[Int(b)].start + Int(offset)
        p.alloc.arena.replaceSubrange(s..<(s + bytes.count), with: bytes)
        return true
    }
    func bufRead(_ p: Proc, _ b: Int32, _ offset: UInt64, _ n: Int) -> [UInt8]? {
        let bs = UInt64(p.alloc.size(of: b))
        guard bs >= UInt64(n), offset <= bs - UInt64(n), offset % 4 == 0, !p.alloc.blocks[Int(b)].free else { return nil }
        let s = p.alloc.blocks[Int(b)].start + Int(offset)
        return Array(p.alloc.arena[s..<(s + n)])
    }
    func bufReadU64(_ p: Proc, _ b: Int32, _ offset: UInt64) -> UInt64? {
        guard let a = bufRead(p, b, offset, 8) else { return nil }
        return a.le64(at: 0)
    }

    func nextID() -> Int { lastID += 1; return lastID }

    // MARK: lifecycle

    /// `binder_open`
    public func open(_ process: ProcessIndex, blocking: Bool) -> Int32 {
        call { openProcess(process, blocking: blocking) }
    }

    func openProcess(_ process: ProcessIndex, blocking: Bool) -> Int32 {
        let sp = procs[process]
        // `do_sys_openat2` reserves the fd before `binder_open` runs.
        guard let fd = sp.fds.reserve() else { return -Errno.EMFILE.rawValue }
        let p = Proc(index: process, pid: pid(of: process))
        p.nonBlocking = !blocking
        allProcs.append(p)
        let file = OpenFile(.binder(p))
        p.file = file
        sp.fds.install(file, at: fd)
        sp.binderFd = fd
        sp.proc = p
        sp.openProcs.append(p)
        sp.mapped = false
        return 0
    }

    /// `binder_mmap` → `binder_alloc_mmap_handler`
    public func mmap(_ process: ProcessIndex, length: UInt64, prot: UInt32) -> MmapResult {
        call { mapProcess(process, length: length, prot: prot) }
    }

    func mapProcess(_ process: ProcessIndex, length: UInt64, prot: UInt32) -> MmapResult {
        let sp = procs[process]
        guard let p = sp.proc else { return .failed(.EBADF) }
        if prot & MmapRules.protWrite != 0 { return .failed(.EPERM) }
        if p.alloc.bufferSize != 0 { return .failed(.EBUSY) }
        let size = Int(min(length, MmapRules.maxBufferSize))
        if size == 0 { return .failed(.EINVAL) }
        p.alloc.mmap(size: size)
        p.mapBase = 0x7000_0000_0000 &+ (UInt64(UInt32(truncatingIfNeeded: process)) << 32)
        sp.mapped = true
        p.file?.count += 1  // the vma's `vm_file`
        return .mapped(p.mapBase)
    }

    /// vma close (`binder_vma_close` → `binder_alloc_vma_close`), then the vma's file reference
    /// goes (`binder_release` when it was the last).
    public func munmap(_ process: ProcessIndex) -> Int32 {
        call { unmapProcess(process) }
    }

    @discardableResult
    func unmapProcess(_ process: ProcessIndex) -> Int32 {
        let sp = procs[process]
        guard let p = sp.proc, sp.mapped else { return 0 }
        sp.mapped = false
        p.alloc.mapped = false
        if let f = p.file { fput(f) }
        return 0
    }

    /// `close` of the binder fd: `binder_flush`, then `binder_release` when nothing else (the
    /// mapping, a received copy of the fd, a queued fixup) holds the file.
    public func close(_ process: ProcessIndex) -> Int32 {
        call { closeProcess(process) }
    }

    @discardableResult
    func closeProcess(_ process: ProcessIndex) -> Int32 {
        if let fd = procs[process].binderFd { closeFile(process, fd) }
        return 0
    }

    /// `binder_release` → `binder_deferred_release` (run at once) when the last reference of the
    /// proc's file went. Its process may have opened the device again since: that proc stays.
    func release(_ p: Proc) {
        let sp = procs[p.index]
        if sp.proc === p { sp.proc = nil; sp.mapped = false }
        if let i = sp.openProcs.firstIndex(where: { $0 === p }) { sp.openProcs.remove(at: i) }
        deferredRelease(p)
        releasedProcs.append(p)
    }

    // MARK: ioctl

    /// `binder_ioctl`. Returns `BinderCall.parked` when a read went to sleep.
    public func ioctl(_ process: ProcessIndex, thread tIndex: ThreadIndex, command: UInt32, argument: UInt64) -> Int32 {
        call { ioctlCall(process, thread: tIndex, command: command, argument: argument) }
    }

    func ioctlCall(_ process: ProcessIndex, thread tIndex: ThreadIndex, command: UInt32, argument: UInt64) -> Int32 {
        guard let p = procs[process].proc, procs[process].fdOpen else { return -Errno.EBADF.rawValue }
        let t = getThread(p, tIndex)
        var ret: Int32 = 0
        switch command {
        case BinderIoctl.writeRead.rawValue:
            ret = writeRead(p, t, argument)
        case BinderIoctl.setMaxThreads.rawValue:
            if let v = getU32(p, argument) { p.maxThreads = v } else { ret = -Errno.EINVAL.rawValue }
        case BinderIoctl.setContextMgrExt.rawValue:
            if let b = getBytes(p, argument, 24) {
                ret = setContextMgr(p, ptr: b.le64(at: 8), cookie: b.le64(at: 16), flags: b.le32(at: 4))
            } else { ret = -Errno.EINVAL.rawValue }
        case BinderIoctl.setContextMgr.rawValue:
            ret = setContextMgr(p, ptr: 0, cookie: 0, flags: 0)
        case BinderIoctl.threadExit.rawValue:
            threadRelease(p, t)
            return 0
        case BinderIoctl.version.rawValue:
            if !putU32(p, argument, UInt32(BinderIoctl.currentProtocolVersion)) { ret = -Errno.EINVAL.rawValue }
        case BinderIoctl.getNodeInfoForRef.rawValue:
            ret = nodeInfoForRef(p, argument)
        case BinderIoctl.getNodeDebugInfo.rawValue:
            ret = nodeDebugInfo(p, argument)
        case BinderIoctl.freeze.rawValue:
            ret = freezeIoctl(p, t, argument)
        case BinderIoctl.getFrozenInfo.rawValue:
            ret = frozenInfo(p, argument)
        case BinderIoctl.enableOnewaySpamDetection.rawValue:
            if let v = getU32(p, argument) { p.spamDetection = v != 0 } else { ret = -Errno.EFAULT.rawValue }
        case BinderIoctl.getExtendedError.rawValue:
            // binder_ioctl_get_extended_error: snapshot and reset first, then copy_to_user (a fault
            // still loses the error).
            var b = [UInt8](); b.appendLE32(t.eeID); b.appendLE32(t.eeCommand); b.appendLE32(UInt32(bitPattern: t.eeParam))
            t.eeID = 0; t.eeCommand = BR_OK; t.eeParam = 0
            if !putBytes(p, argument, b) { ret = -Errno.EFAULT.rawValue }
        default:
            ret = -Errno.EINVAL.rawValue
        }
        // At the ioctl's return; a parked call returns later (`BinderDriver.complete`).
        if ret != BinderCall.parked { t.looperNeedReturn = false }
        return ret
    }

    /// `binder_get_thread`
    func getThread(_ p: Proc, _ i: Int) -> Thread {
        if let t = p.threads[i] { return t }
        let t = Thread(index: i, proc: p)
        allThreads.append(t)
        p.threads[i] = t
        return t
    }

    /// `binder_ioctl_set_ctx_mgr`
    func setContextMgr(_ p: Proc, ptr: UInt64, cookie: UInt64, flags: UInt32) -> Int32 {
        if ctxMgrNode != nil { return -Errno.EBUSY.rawValue }
        ctxMgrUIDSet = true // every euid is 0: the remembered uid always matches
        let n = newNode(p, ptr: ptr, cookie: cookie, flags: flags)
        n.localWeakRefs += 1; n.localStrongRefs += 1
        n.hasStrongRef = true; n.hasWeakRef = true
        ctxMgrNode = n
        putNode(n)
        return 0
    }

    /// `binder_ioctl_get_node_info_for_ref`
    func nodeInfoForRef(_ p: Proc, _ arg: UInt64) -> Int32 {
        guard let b = getBytes(p, arg, 24) else { return -Errno.EFAULT.rawValue }
        let handle = b.le32(at: 0)
        if b.le32(at: 4) != 0 || b.le32(at: 8) != 0 || b.le32(at: 12) != 0 || b.le32(at: 16) != 0 || b.le32(at: 20) != 0 {
            return -Errno.EINVAL.rawValue
        }
        guard let m = ctxMgrNode, m.proc === p else { return -Errno.EPERM.rawValue }
        guard let ref = p.refsByDesc[handle], ref.strong > 0 else { return -Errno.EINVAL.rawValue }
        let node = ref.node
        node.tmpRefs += 1
        var o = [UInt8](); o.appendLE32(handle); o.appendLE32(UInt32(truncatingIfNeeded: node.localStrongRefs + node.internalStrongRefs))
        o.appendLE32(UInt32(truncatingIfNeeded: node.localWeakRefs)); o.appendLE32(0); o.appendLE32(0); o.appendLE32(0)
        putNode(node)
        return putBytes(p, arg, o) ? 0 : -Errno.EFAULT.rawValue
    }

    /// `binder_ioctl_get_node_debug_info`
    func nodeDebugInfo(_ p: Proc, _ arg: UInt64) -> Int32 {
        guard let b = getBytes(p, arg, 24) else { return -Errno.EFAULT.rawValue }
        let ptr = b.le64(at: 0)
        var o = [UInt8](repeating: 0, count: 24)
        var best: Node?
        for (k, n) in p.nodes where k > ptr { if best == nil || k < best!.ptr { best = n } }
        if let n = best {
            o.putLE64(n.ptr, at: 0); o.putLE64(n.cookie, at: 8)
            o.putLE32(n.hasStrongRef ? 1 : 0, at: 16); o.putLE32(n.hasWeakRef ? 1 : 0, at: 20)
        }
        return putBytes(p, arg, o) ? 0 : -Errno.EFAULT.rawValue
    }

    /// The unreleased procs with `pid`, in open order (the `binder_procs` walk).
    func liveProcs(pid: UInt32) -> [Proc] {
        procs.flatMap { sp in sp.openProcs.filter { UInt32(bitPattern: $0.pid) == pid } }
    }

    /// BINDER_FREEZE: `binder_ioctl_freeze` for each unreleased proc with the pid (more than one
    /// when an earlier proc of the process is kept alive by a copy of its file). Returns
    /// `BinderCall.parked` when the caller waits for the target's transactions to drain
    /// (`freezeProc`).
    func freezeIoctl(_ p: Proc, _ t: Thread, _ arg: UInt64) -> Int32 {
        guard let b = getBytes(p, arg, 12) else { return -Errno.EFAULT.rawValue }
        let targets = liveProcs(pid: b.le32(at: 0))
        if targets.isEmpty { return -Errno.EINVAL.rawValue }
        let enable = b.le32(at: 4), timeoutMs = b.le32(at: 8)
        var ret: Int32 = 0
        for tp in targets where ret >= 0 {
            ret = freezeProc(tp, enable: enable, timeoutMs: timeoutMs, caller: t, argument: arg)
            if ret == BinderCall.parked { break }
        }
        return ret
    }
    /// `binder_txns_pending_ilocked`
    func txnsPending(_ p: Proc) -> Bool {
        if p.outstandingTxns > 0 { return true }
        for (_, t) in p.threads where t.transactionStack != nil { return true }
        return false
    }
    /// BINDER_GET_FROZEN_INFO (`binder_ioctl_get_freezer_info`)
    func frozenInfo(_ p: Proc, _ arg: UInt64) -> Int32 {
        guard let b = getBytes(p, arg, 12) else { return -Errno.EFAULT.rawValue }
        let targets = liveProcs(pid: b.le32(at: 0))
        if targets.isEmpty { return -Errno.EINVAL.rawValue }
        var sync: UInt32 = 0, async: UInt32 = 0
        for tp in targets {
            sync |= (tp.syncRecv ? 1 : 0) | (txnsPending(tp) ? 2 : 0)
            async |= tp.asyncRecv ? 1 : 0
        }
        var o = [UInt8](); o.appendLE32(b.le32(at: 0)); o.appendLE32(sync); o.appendLE32(async)
        return putBytes(p, arg, o) ? 0 : -Errno.EFAULT.rawValue
    }
    /// `binder_add_freeze_work`
    /// Each node is pinned with a tmp ref while its refs are walked; the previous node is put right
    /// after the next one is pinned and the last one after the loop (`binder_put_node` may re-queue
    /// the node work or free the node).
    func addFreezeWork(_ p: Proc, _ frozen: Bool) {
        var prev: Node? = nil
        for k in p.nodes.keys.sorted() {
            guard let n = p.nodes[k] else { continue }
            n.tmpRefs += 1
            if let pv = prev { putNode(pv) }
            prev = n
            for ref in n.refs.reversed() {
                guard let f = ref.freeze else { continue }
                f.kind = .frozenBinder
                if !f.isQueued {
                    f.isFrozen = frozen
                    enqueueProcWork(f, ref.proc)
                } else {
                    if f.sent && f.isFrozen != frozen { f.resend = true }
                    f.isFrozen = frozen
                }
            }
        }
        if let pv = prev { putNode(pv) }
    }

    // MARK: BINDER_WRITE_READ

    /// `binder_ioctl_write_read`
    func writeRead(_ p: Proc, _ t: Thread, _ arg: UInt64) -> Int32 {
        guard let b = getBytes(p, arg, 48) else { return -Errno.EFAULT.rawValue }
        var bwr = BinderWriteRead(bytes: b)
        if bwr.writeSize > 0 {
            let r = threadWrite(p, t, bwr.writeBuffer, bwr.writeSize, &bwr.writeConsumed)
            if r < 0 {
                bwr.readConsumed = 0
                return putBytes(p, arg, bwr.bytes) ? r : -Errno.EFAULT.rawValue
            }
        }
        if bwr.readSize > 0 {
            guard let r = threadRead(p, t, arg, &bwr) else { return BinderCall.parked }
            return finishRead(p, arg, bwr, r)
        }
        return putBytes(p, arg, bwr.bytes) ? 0 : -Errno.EFAULT.rawValue
    }

    /// The rest of `binder_ioctl_write_read` once `binder_thread_read` returned `result`: wake a
    /// thread for proc work left behind (`binder_wakeup_proc_ilocked`), and copy the
    /// `binder_write_read` back.
    func finishRead(_ p: Proc, _ arg: UInt64, _ bwr: BinderWriteRead, _ result: Int32) -> Int32 {
        if !p.todo.isEmpty { wakeUpProc(p) }
        let copied = putBytes(p, arg, bwr.bytes)
        if result < 0 { return copied ? result : -Errno.EFAULT.rawValue }
        return copied ? 0 : -Errno.EFAULT.rawValue
    }

    /// `binder_thread_write`
    func threadWrite(_ p: Proc, _ t: Thread, _ buffer: UInt64, _ size: UInt64, _ consumed: inout UInt64) -> Int32 {
        var ptr = buffer &+ consumed
        let end = buffer &+ size
        while ptr < end {
            #if BINDER_MUTANTS
            if Mutant.active != .writeLoopIgnoresError && t.returnError.cmd != BR_OK { break }
            #else
            if t.returnError.cmd != BR_OK { break }
            #endif
            guard let cmd = getU32(p, ptr) else { return -Errno.EFAULT.rawValue }
            ptr &+= 4
            switch cmd {
            case BinderCommand.increfs.rawValue, BinderCommand.acquire.rawValue,
                 BinderCommand.release.rawValue, BinderCommand.decrefs.rawValue:
                guard let target = getU32(p, ptr) else { return -Errno.EFAULT.rawValue }
                ptr &+= 4
                let strong = cmd == BinderCommand.acquire.rawValue || cmd == BinderCommand.release.rawValue
                let increment = cmd == BinderCommand.increfs.rawValue || cmd == BinderCommand.acquire.rawValue
                var ret: Int32 = -1
                if increment && target == 0, let m = ctxMgrNode {
                    if m.proc === p { return -Errno.EINVAL.rawValue }
                    ret = incRefForNode(p, m, strong: strong, targetThread: nil).0
                }
                if ret != 0 { _ = updateRefForHandle(p, target, increment: increment, strong: strong) }
            case BinderCommand.increfsDone.rawValue, BinderCommand.acquireDone.rawValue:
                guard let nptr = getU64(p, ptr) else { return -Errno.EFAULT.rawValue }
                ptr &+= 8
                guard let cookie = getU64(p, ptr) else { return -Errno.EFAULT.rawValue }
                ptr &+= 8
                guard let node = p.nodes[nptr] else { break }
                node.tmpRefs += 1
                if cookie != node.cookie { putNode(node); break }
                let strong = cmd == BinderCommand.acquireDone.rawValue
                if strong {
                    if !node.pendingStrongRef { putNode(node); break }
                    node.pendingStrongRef = false
                } else {
                    if !node.pendingWeakRef { putNode(node); break }
                    node.pendingWeakRef = false
                }
                _ = decNode(node, strong: strong, internal: false)
                putNode(node)
            case BinderCommand.attemptAcquire.rawValue, BinderCommand.acquireResult.rawValue:
                return -Errno.EINVAL.rawValue
            case BinderCommand.freeBuffer.rawValue:
                guard let uptr = getU64(p, ptr) else { return -Errno.EFAULT.rawValue }
                ptr &+= 8
                freeBufferCmd(p, t, uptr)
            case BinderCommand.transaction.rawValue, BinderCommand.reply.rawValue:
                guard let b = getBytes(p, ptr, 64) else { return -Errno.EFAULT.rawValue }
                ptr &+= 64
                transaction(p, t, TransactionData(bytes: b), reply: cmd == BinderCommand.reply.rawValue, extra: 0)
            case BinderCommand.transactionSG.rawValue, BinderCommand.replySG.rawValue:
                guard let b = getBytes(p, ptr, 72) else { return -Errno.EFAULT.rawValue }
                ptr &+= 72
                transaction(p, t, TransactionData(bytes: b), reply: cmd == BinderCommand.replySG.rawValue, extra: b.le64(at: 64))
            case BinderCommand.registerLooper.rawValue:
                if t.looper & Thread.entered != 0 { t.looper |= Thread.invalid }
                else if p.requestedThreads == 0 { t.looper |= Thread.invalid }
                else { p.requestedThreads -= 1; p.requestedThreadsStarted += 1 }
                t.looper |= Thread.registered
            case BinderCommand.enterLooper.rawValue:
                if t.looper & Thread.registered != 0 { t.looper |= Thread.invalid }
                t.looper |= Thread.entered
            case BinderCommand.exitLooper.rawValue:
                t.looper |= Thread.exited
            case BinderCommand.requestDeathNotification.rawValue, BinderCommand.clearDeathNotification.rawValue:
                guard let target = getU32(p, ptr) else { return -Errno.EFAULT.rawValue }
                ptr &+= 4
                guard let cookie = getU64(p, ptr) else { return -Errno.EFAULT.rawValue }
                ptr &+= 8
                deathCommand(p, t, request: cmd == BinderCommand.requestDeathNotification.rawValue, handle: target, cookie: cookie)
            case BinderCommand.deadBinderDone.rawValue:
                guard let cookie = getU64(p, ptr) else { return -Errno.EFAULT.rawValue }
                ptr &+= 8
                var w = p.deliveredDeath.head
                while let cur = w { if let d = cur as? Death, d.cookie == cookie { break }; w = cur.next }
                guard let death = w as? Death else { break }
                dequeueWork(death)
                if death.kind == .deadBinderAndClear {
                    death.kind = .clearDeath
                    enqueueClearDeath(p, t, death)
                }
            case BinderCommand.requestFreezeNotification.rawValue, BinderCommand.clearFreezeNotification.rawValue:
                guard let hc = getBytes(p, ptr, 12) else { return -Errno.EFAULT.rawValue }
                let handle = hc.le32(at: 0), cookie = hc.le64(at: 4)
                let r = cmd == BinderCommand.requestFreezeNotification.rawValue
                    ? requestFreeze(p, handle, cookie) : clearFreeze(p, handle, cookie)
                if r != 0 { return r }
                ptr &+= 12
            case BinderCommand.freezeNotificationDone.rawValue:
                guard let cookie = getU64(p, ptr) else { return -Errno.EFAULT.rawValue }
                var w = p.deliveredFreeze.head
                while let cur = w { if let f = cur as? Freeze, f.cookie == cookie { break }; w = cur.next }
                guard let f = w as? Freeze else { return -Errno.EINVAL.rawValue }
                dequeueWork(f)
                f.sent = false
                if f.resend { f.resend = false; enqueueProcWork(f, p) }
                ptr &+= 8
            default:
                return -Errno.EINVAL.rawValue
            }
            consumed = ptr &- buffer
        }
        return 0
    }

    func enqueueClearDeath(_ p: Proc, _ t: Thread, _ d: Death) {
        #if BINDER_MUTANTS
        if Mutant.active == .clearDoneToProc { enqueueProcWork(d, p); return }
        #endif
        if t.isLooper { enqueueThreadWork(t, d) } else { enqueueProcWork(d, p) }
    }

    /// BC_REQUEST/CLEAR_DEATH_NOTIFICATION handling in `binder_thread_write`.
    func deathCommand(_ p: Proc, _ t: Thread, request: Bool, handle: UInt32, cookie: UInt64) {
        guard let ref = p.refsByDesc[handle] else { return }
        if request {
            if ref.death != nil { return }
            let d = Death(cookie: cookie)
            ref.death = d
            if ref.node.proc == nil { d.kind = .deadBinder; enqueueProcWork(d, p) }
        } else {
            guard let d = ref.death, d.cookie == cookie else { return }
            ref.death = nil
            if !d.isQueued {
                d.kind = .clearDeath
                enqueueClearDeath(p, t, d)
            } else {
                d.kind = .deadBinderAndClear
            }
        }
    }

    /// `binder_request_freeze_notification`
    func requestFreeze(_ p: Proc, _ handle: UInt32, _ cookie: UInt64) -> Int32 {
        guard let ref = p.refsByDesc[handle] else { return -Errno.EINVAL.rawValue }
        if ref.freeze != nil { return -Errno.EINVAL.rawValue }
        let f = Freeze(cookie: cookie)
        ref.freeze = f
        if let owner = ref.node.proc {
            f.isFrozen = owner.isFrozen
            enqueueProcWork(f, p)
        }
        return 0
    }
    /// `binder_clear_freeze_notification`
    func clearFreeze(_ p: Proc, _ handle: UInt32, _ cookie: UInt64) -> Int32 {
        guard let ref = p.refsByDesc[handle], let f = ref.freeze, f.cookie == cookie else { return -Errno.EINVAL.rawValue }
        ref.freeze = nil
        f.kind = .clearFreeze
        if !f.isQueued { enqueueProcWork(f, p) } else if f.sent { f.resend = true }
        return 0
    }

    /// `binder_enqueue_thread_work_ilocked`
    func enqueueThreadWork(_ t: Thread, _ w: Work) { t.todo.append(w); t.processTodo = true }
    /// `binder_enqueue_deferred_thread_work_ilocked`
    func enqueueDeferredThreadWork(_ t: Thread, _ w: Work) { t.todo.append(w) }

    // MARK: read

    /// `binder_thread_read` from its start (BR_NOOP when `read_consumed` is 0). Returns 0 or
    /// -errno with `bwr.readConsumed` updated, or nil when the thread parked in
    /// `binder_wait_for_work` (a blocking file with no work).
    func threadRead(_ p: Proc, _ t: Thread, _ arg: UInt64, _ bwr: inout BinderWriteRead) -> Int32? {
        var ptr = bwr.readBuffer &+ bwr.readConsumed
        if bwr.readConsumed == 0 {
            if !putU32(p, ptr, BinderReturn.noop.rawValue) { return -Errno.EFAULT.rawValue }
            ptr &+= 4
        }
        return readWork(p, t, arg, &bwr, from: ptr, afterWait: nil)
    }

    /// `binder_thread_read` from its `retry:` label at cursor `start`. `afterWait` is the
    /// `wait_for_proc_work` of a `binder_wait_for_work` that just returned 0 (the read goes
    /// straight to its work loop); nil starts at `retry:`. Returns nil when the thread parked.
    func readWork(_ p: Proc, _ t: Thread, _ arg: UInt64, _ bwr: inout BinderWriteRead, from start: UInt64,
                  afterWait: Bool?) -> Int32? {
        let buffer = bwr.readBuffer
        var ptr = start
        let end = buffer &+ bwr.readSize
        let EFAULT = -Errno.EFAULT.rawValue
        var resumedWith = afterWait
        var retries = 0
        // `ret` of binder_thread_read: -ENOMEM after a failed fd fixup, until reset.
        var ret: Int32 = 0
        // retry loop
        while true {
            let waitForProc: Bool
            if let w = resumedWith {
                waitForProc = w
                resumedWith = nil
            } else {
                waitForProc = isAvailableForProcWork(t)
                if !hasWork(t, waitForProc) {
                    if p.nonBlocking { return -Errno.EAGAIN.rawValue }
                    park(t, .read(ReadWait(argument: arg, bwr: bwr, ptr: ptr, doProcWork: waitForProc)))
                    return nil
                }
                if p.nonBlocking && ret != 0 { return ret }
                ret = 0
                retries += 1
                if retries > 2 { return -Errno.EAGAIN.rawValue }  // the kernel would spin; never reached in practice
            }
            var retry = false
            loop: while true {
                let list: WorkList
                if !t.todo.isEmpty { list = t.todo }
                else if waitForProc && !p.todo.isEmpty { list = p.todo }
                else {
                    if ptr &- buffer == 4 && !t.looperNeedReturn { retry = true }
                    break loop
                }
                if end &- ptr < UInt64(StructLayout.readRoomPerItem) { break loop }
                let w = list.popHead()!
                if t.todo.isEmpty { t.processTodo = false }
                switch w.kind {
                case .transaction:
                    let tr = w as! Transaction
                    let r = emitTransaction(p, t, tr, &ptr)
                    if r < 0 { return r }
                    ret = r == 2 ? -Errno.ENOMEM.rawValue : 0
                    if r >= 1 { continue loop }
                    break loop
                case .returnError:
                    let e = w as! ErrorSlot
                    if !putU32(p, ptr, e.cmd) { return EFAULT }
                    e.cmd = BR_OK
                    ptr &+= 4
                case .complete, .pending, .spamSuspect:
                    let cmd: UInt32
                    if p.spamDetection && w.kind == .spamSuspect { cmd = BinderReturn.onewaySpamSuspect.rawValue }
                    else if w.kind == .pending { cmd = BinderReturn.transactionPendingFrozen.rawValue }
                    else { cmd = BinderReturn.transactionComplete.rawValue }
                    if !putU32(p, ptr, cmd) { return EFAULT }
                    ptr &+= 4
                case .node:
                    let node = w as! Node
                    let strong = node.internalStrongRefs > 0 || node.localStrongRefs > 0
                    let weak = !node.refs.isEmpty || node.localWeakRefs > 0 || node.tmpRefs > 0 || strong
                    let hs = node.hasStrongRef, hw = node.hasWeakRef
                    if weak && !hw { node.hasWeakRef = true; node.pendingWeakRef = true; node.localWeakRefs += 1 }
                    if strong && !hs { node.hasStrongRef = true; node.pendingStrongRef = true; node.localStrongRefs += 1 }
                    if !strong && hs { node.hasStrongRef = false }
                    if !weak && hw { node.hasWeakRef = false }
                    if !weak && !strong { p.nodes[node.ptr] = nil }
                    var cmds: [UInt32] = []
                    if weak && !hw { cmds.append(BinderReturn.increfs.rawValue) }
                    if strong && !hs { cmds.append(BinderReturn.acquire.rawValue) }
                    #if BINDER_MUTANTS
                    if !strong && hs && Mutant.active != .noBRRelease { cmds.append(BinderReturn.release.rawValue) }
                    #else
                    if !strong && hs { cmds.append(BinderReturn.release.rawValue) }
                    #endif
                    if !weak && hw { cmds.append(BinderReturn.decrefs.rawValue) }
                    // binder_put_node_cmd: BR_INCREFS (always first) resets `ret`; every other
                    // command is written only while `ret` is 0.
                    if weak && !hw { ret = 0 }
                    for c in cmds where ret == 0 {
                        if !putU32(p, ptr, c) { return EFAULT }
                        ptr &+= 4
                        if !putU64(p, ptr, node.ptr) { return EFAULT }
                        ptr &+= 8
                        if !putU64(p, ptr, node.cookie) { return EFAULT }
                        ptr &+= 8
                    }
                    if ret != 0 { return ret }
                case .deadBinder, .deadBinderAndClear, .clearDeath:
                    let d = w as! Death
                    let cmd = w.kind == .clearDeath ? BinderReturn.clearDeathNotificationDone.rawValue : BinderReturn.deadBinder.rawValue
                    if w.kind != .clearDeath { p.deliveredDeath.append(d) }
                    if !putU32(p, ptr, cmd) { return EFAULT }
                    ptr &+= 4
                    if !putU64(p, ptr, d.cookie) { return EFAULT }
                    ptr &+= 8
                    if cmd == BinderReturn.deadBinder.rawValue { break loop }
                case .frozenBinder:
                    let f = w as! Freeze
                    f.sent = true
                    p.deliveredFreeze.append(f)
                    if !putU32(p, ptr, BinderReturn.frozenBinder.rawValue) { return EFAULT }
                    ptr &+= 4
                    var info = [UInt8](); info.appendLE64(f.cookie); info.appendLE32(f.isFrozen ? 1 : 0); info.appendLE32(0)
                    if !putBytes(p, ptr, info) { return EFAULT }
                    ptr &+= 16
                    break loop
                case .clearFreeze:
                    let f = w as! Freeze
                    if !putU32(p, ptr, BinderReturn.clearFreezeNotificationDone.rawValue) { return EFAULT }
                    ptr &+= 4
                    if !putU64(p, ptr, f.cookie) { return EFAULT }
                    ptr &+= 8
                }
            }
            if retry { continue }
            break
        }
        bwr.readConsumed = ptr &- buffer
        #if BINDER_MUTANTS
        let noWaiters = Mutant.active == .spawnIgnoresWaiters || p.waitingThreads.isEmpty
        #else
        let noWaiters = p.waitingThreads.isEmpty
        #endif
        if p.requestedThreads == 0 && noWaiters
            && UInt32(clamping: p.requestedThreadsStarted) < p.maxThreads && t.isLooper {
            p.requestedThreads += 1
            // A fault writing BR_SPAWN_LOOPER fails the read (read_consumed is already set).
            if !putU32(p, buffer, BinderReturn.spawnLooper.rawValue) { return EFAULT }
        }
        return 0
    }

    /// The BINDER_WORK_TRANSACTION part of `binder_thread_read`. Returns <0 errno, 0 = stop, 1 = continue.
    /// When the reader cannot take the transaction's fds (`binder_apply_fd_fixups` fails), the
    /// transaction is cleaned up with BR_FAILED_REPLY (a sync call's sender gets it) and its
    /// buffer freed as a failure; a reply's reader gets BR_FAILED_REPLY and stops, a call's
    /// reader goes on with its next work.
    func emitTransaction(_ p: Proc, _ t: Thread, _ tr: Transaction, _ ptr: inout UInt64) -> Int32 {
        let blk = tr.buffer
        let alloc = p.alloc
        guard blk >= 0 else { return 1 }
        var d = [UInt8](); d.reserveCapacity(64)
        let node = blk >= 0 ? alloc.targetNode[Int(blk)] : nil
        var cmd: UInt32
        if let n = node { d.appendLE64(n.ptr); d.appendLE64(n.cookie); cmd = BinderReturn.transaction.rawValue }
        else { d.appendLE64(0); d.appendLE64(0); cmd = BinderReturn.reply.rawValue }
        if !applyFdFixups(p, tr) {
            alloc.txn[Int(blk)] = nil
            cleanupTransaction(tr, BinderReturn.failedReply.rawValue)
            freeBuf(p, blk, isFailure: true, closer: t)
            tr.buffer = -1  // the transaction is gone; its block may be reused
            guard cmd == BinderReturn.reply.rawValue else { return 2 }
            if !putU32(p, ptr, BinderReturn.failedReply.rawValue) { return -Errno.EFAULT.rawValue }
            ptr &+= 4
            return 0
        }
        d.appendLE32(tr.code); d.appendLE32(tr.flags)
        d.appendLE32(UInt32(bitPattern: tr.from.map { $0.proc.taskExited ? 0 : $0.proc.pid } ?? 0))
        d.appendLE32(0)
        let b = alloc.blocks[Int(blk)]
        d.appendLE64(b.dataSize); d.appendLE64(b.offsetsSize)
        let ubuf = p.mapBase &+ UInt64(b.start)
        d.appendLE64(ubuf); d.appendLE64(ubuf &+ ((b.dataSize &+ 7) & ~7))
        if tr.securityCtx != 0 { cmd = BinderReturn.transactionSecCtx.rawValue; d.appendLE64(tr.securityCtx) }
        if !putU32(p, ptr, cmd) {
            cleanupTransaction(tr, BinderReturn.failedReply.rawValue)
            return -Errno.EFAULT.rawValue
        }
        ptr &+= 4
        if !putBytes(p, ptr, d) {
            cleanupTransaction(tr, BinderReturn.failedReply.rawValue)
            return -Errno.EFAULT.rawValue
        }
        ptr &+= UInt64(d.count)
        alloc.blocks[Int(blk)].allowUserFree = true
        if cmd != BinderReturn.reply.rawValue && tr.flags & TransactionFlags.oneWay == 0 {
            tr.toParent = t.transactionStack
            tr.toThread = t
            t.transactionStack = tr
        } else {
            freeTransaction(tr)
        }
        return 0
    }

    // MARK: transactions' lifecycle helpers

    /// `binder_free_transaction`
    func freeTransaction(_ t: Transaction) {
        if let tp = t.toProc {
            tp.outstandingTxns -= 1
            // wake_up_interruptible_all(&target_proc->freeze_wait)
            if tp.outstandingTxns == 0 && tp.isFrozen && !freezeWaiters.isEmpty { wakeUpFreezeWaiters(tp) }
            if t.buffer >= 0, let bp = t.bufProc { bp.alloc.txn[Int(t.buffer)] = nil }
        }
        freeFdFixups(t)
    }
    /// `binder_pop_transaction_ilocked`
    func popTransaction(_ th: Thread, _ t: Transaction) {
        th.transactionStack = t.fromParent
        t.from = nil
    }
    /// `binder_send_failed_reply`
    func sendFailedReply(_ t0: Transaction, _ code: UInt32) {
        var t = t0
        while true {
            if let target = t.from {
                popTransaction(target, t)
                if target.replyError.cmd == BR_OK {
                    target.replyError.cmd = code
                    enqueueThreadWork(target, target.replyError)
                    wakeUp(target)
                }
                freeTransaction(t)
                return
            }
            let next = t.fromParent
            freeTransaction(t)
            guard let n = next else { return }
            t = n
        }
    }
    /// `binder_cleanup_transaction`
    func cleanupTransaction(_ t: Transaction, _ code: UInt32) {
        let hasNode = t.buffer >= 0 && t.bufProc?.alloc.targetNode[Int(t.buffer)] != nil
        if hasNode && t.flags & TransactionFlags.oneWay == 0 { sendFailedReply(t, code) } else { freeTransaction(t) }
    }

    /// `binder_release_work`
    func releaseWork(_ p: Proc, _ list: WorkList) {
        while let w = list.popHead() {
            if w.kind == .transaction { cleanupTransaction(w as! Transaction, BinderReturn.deadReply.rawValue) }
        }
    }

    /// `binder_thread_release`
    func threadRelease(_ p: Proc, _ th: Thread) {
        if p.threads[th.index] === th { p.threads[th.index] = nil }
        forgetPollThread(p, th)
        var t = th.transactionStack
        var sendReply: Transaction?
        if let top = t, top.toThread === th { sendReply = top }
        th.isDead = true
        while let cur = t {
            if cur.toThread === th {
                p.outstandingTxns -= 1
                cur.toProc = nil
                cur.toThread = nil
                if cur.buffer >= 0, let bp = cur.bufProc { bp.alloc.txn[Int(cur.buffer)] = nil }
                cur.buffer = -1
                t = cur.toParent
            } else if cur.from === th {
                cur.from = nil
                t = cur.fromParent
            } else { break }
        }
        if let s = sendReply { sendFailedReply(s, BinderReturn.deadReply.rawValue) }
        releaseWork(p, th.todo)
    }

    /// `binder_deferred_release`
    func deferredRelease(_ p: Proc) {
        if let m = ctxMgrNode, m.proc === p { ctxMgrNode = nil }
        p.isDead = true; p.isFrozen = false; p.syncRecv = false; p.asyncRecv = false
        for k in p.threads.keys.sorted() { threadRelease(p, p.threads[k]!) }
        for k in p.nodes.keys.sorted() {
            guard let n = p.nodes[k] else { continue }
            n.tmpRefs += 1
            p.nodes[k] = nil
            nodeRelease(n)
        }
        for d in p.refsByDesc.keys.sorted() {
            guard let r = p.refsByDesc[d] else { continue }
            cleanupRef(r)
        }
        releaseWork(p, p.todo)
        releaseWork(p, p.deliveredDeath)
        releaseWork(p, p.deliveredFreeze)
    }

    /// `binder_node_release`
    func nodeRelease(_ n: Node) {
        let owner = n.proc
        if let o = owner { releaseWork(o, n.asyncTodo) }
        dequeueWork(n)
        if n.refs.isEmpty && n.tmpRefs == 1 { n.tmpRefs = 0; return }
        n.proc = nil
        n.localStrongRefs = 0; n.localWeakRefs = 0
        for ref in n.refs.reversed() {
            guard let d = ref.death else { continue }
            #if BINDER_MUTANTS
            if Mutant.active == .noDeadBinderOnRelease { continue }
            #endif
            d.kind = .deadBinder
            enqueueProcWork(d, ref.proc)
        }
        putNode(n)
    }
}
