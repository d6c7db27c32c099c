import BinderUAPI

/// A parsed object from a buffer or from sender memory (`union binder_object`), as raw bytes.
struct RawObject {
    var bytes: [UInt8]   // 40 bytes, zero-padded
    var type: BinderObjectType { BinderObjectType(rawValue: bytes.le32(at: 0)) }
    func u32(_ o: Int) -> UInt32 { bytes.le32(at: o) }
    func u64(_ o: Int) -> UInt64 { bytes.le64(at: o) }
    mutating func put32(_ v: UInt32, _ o: Int) { bytes.putLE32(v, at: o) }
    mutating func put64(_ v: UInt64, _ o: Int) { bytes.putLE64(v, at: o) }
}

/// A pending scatter-gather copy (`struct binder_sg_copy`).
struct SGCopy { var offset: UInt64; var senderAddr: UInt64; var length: UInt64 }
/// A pending pointer fixup or skip (`struct binder_ptr_fixup`).
struct PtrFixup { var offset: UInt64; var data: UInt64; var skip: UInt64 }

extension BinderModel {
    /// Mirrors `check_buffer`.
    func checkBuffer(_ alloc: Allocator, _ b: Buffer, _ offset: UInt64, _ bytes: UInt64) -> Bool {
        let size = alloc.size(of: b)
        return size >= bytes && offset <= size - bytes && offset % 4 == 0 && !b.free
            && (!b.allowUserFree || b.transaction == nil)
    }

    /// Mirrors `binder_alloc_copy_user_to_buffer`; counts copied bytes. Returns false on failure.
    func copyUserToBuffer(_ target: Proc, _ b: Buffer, _ offset: UInt64, _ sender: ProcessIndex, _ addr: UInt64, _ count: UInt64) -> Bool {
        guard checkBuffer(target.alloc, b, offset, count) else { return false }
        if count == 0 { return true }
        guard let bytes = copyFromUser(sender, addr, count) else { return false }
        target.alloc.write(bytes, at: b.start + offset)
        copiedBytesCounter += count
        return true
    }

    /// Mirrors `binder_alloc_copy_to_buffer` (kernel data, not counted unless `count`).
    func copyToBuffer(_ target: Proc, _ b: Buffer, _ offset: UInt64, _ bytes: [UInt8], count: Bool = false) -> Bool {
        guard checkBuffer(target.alloc, b, offset, UInt64(bytes.count)) else { return false }
        target.alloc.write(bytes, at: b.start + offset)
        if count { copiedBytesCounter += UInt64(bytes.count) }
        return true
    }

    /// Mirrors `binder_alloc_copy_from_buffer`.
    func copyFromBuffer(_ proc: Proc, _ b: Buffer, _ offset: UInt64, _ count: UInt64) -> [UInt8]? {
        guard checkBuffer(proc.alloc, b, offset, count) else { return nil }
        return proc.alloc.read(at: b.start + offset, count: Int(count))
    }

    /// Mirrors `binder_get_object`: reads from the sender's memory when `sender` is given and its
    /// address is not NULL, else from the buffer (which may hold stale bytes of an earlier
    /// transaction).
    func getObject(_ proc: Proc, sender: (ProcessIndex, UInt64)?, _ b: Buffer, _ offset: UInt64) -> (Int, RawObject) {
        var obj = RawObject(bytes: [UInt8](repeating: 0, count: 40))
        let readSize = min(40, b.dataSize &- offset)
        if offset > b.dataSize || readSize < 4 || offset % 4 != 0 { return (0, obj) }
        if let (p, base) = sender, base != 0 {
            guard let bytes = copyFromUser(p, base &+ offset, readSize) else { return (0, obj) }
            for (k, v) in bytes.enumerated() { obj.bytes[k] = v }
        } else {
            guard let bytes = copyFromBuffer(proc, b, offset, readSize) else { return (0, obj) }
            for (k, v) in bytes.enumerated() { obj.bytes[k] = v }
        }
        guard let size = obj.type.objectSize.map(UInt64.init) else { return (0, obj) }
        if offset <= b.dataSize &- size && b.dataSize >= size { return (Int(size), obj) }
        return (0, obj)
    }

    /// Mirrors `binder_validate_ptr`: the PTR object at offsets[index], with its buffer offset.
    func validatePtr(_ proc: Proc, _ b: Buffer, index: UInt64, offStart: UInt64, numValid: UInt64) -> (RawObject, UInt64)? {
        if index >= numValid { return nil }
        guard let ob = copyFromBuffer(proc, b, offStart &+ 8 &* index, 8) else { return nil }
        let objOff = ob.le64(at: 0)
        let (size, obj) = getObject(proc, sender: nil, b, objOff)
        if size == 0 || obj.type != .ptr { return nil }
        return (obj, objOff)
    }

    /// Mirrors `binder_validate_fixup`.
    func validateFixup(_ proc: Proc, _ b: Buffer, offStart: UInt64, bufferObjOff: UInt64, fixupOffset: UInt64,
                       lastObjOff: UInt64, lastMinOff: UInt64) -> Bool {
        if lastObjOff == 0 { return false }
        var last = lastObjOff
        var minOff = lastMinOff
        var guardCount = 0
        while last != bufferObjOff {
            guardCount += 1
            if guardCount > 100_000 { return false }
            let (size, obj) = getObject(proc, sender: nil, b, last)
            if size != 40 { return false }
            if obj.u32(4) & BufferObjectFlags.hasParent == 0 { return false }
            minOff = obj.u64(32) &+ 8
            guard let ob = copyFromBuffer(proc, b, offStart &+ 8 &* obj.u64(24), 8) else { return false }
            last = ob.le64(at: 0)
        }
        return fixupOffset >= minOff
    }

    /// Mirrors `binder_add_fixup` (kept sorted by offset).
    func addFixup(_ list: inout [PtrFixup], _ f: PtrFixup) {
        var i = list.count
        while i > 0 { if list[i - 1].offset < f.offset { break }; i -= 1 }
        list.insert(f, at: i)
    }

    /// Mirrors `binder_translate_binder`.
    func translateBinder(_ fp: inout RawObject, _ t: Transaction, _ thread: Thread, _ targetProc: Proc) -> Int32 {
        let proc = thread.proc
        let ptr = fp.u64(8), cookie = fp.u64(16)
        // binder_get_node / binder_new_node: both take a tmp ref, dropped at `done:`.
        let n = getNode(proc, ptr: ptr) ?? newNode(proc, ptr: ptr, cookie: cookie, flags: fp.u32(4))
        defer { putNode(n) }
        if cookie != n.cookie { return Errno.EINVAL.negated }
        let strong = fp.type == .binder
        let (r, ref) = incRefForNode(targetProc, n, strong: strong, targetThread: thread)
        if r != 0 { return r }
        fp.put32(strong ? BinderObjectType.handle.rawValue : BinderObjectType.weakHandle.rawValue, 0)
        fp.put64(0, 8)
        fp.put32(ref!.desc, 8)
        fp.put64(0, 16)
        return 0
    }

    /// Mirrors `binder_translate_handle`.
    func translateHandle(_ fp: inout RawObject, _ t: Transaction, _ thread: Thread, _ targetProc: Proc) -> Int32 {
        let proc = thread.proc
        let strong = fp.type == .handle
        // binder_get_node_from_ref takes a tmp ref, dropped at `done:`.
        guard let node = getNodeFromRef(proc, fp.u32(8), needStrong: strong) else { return Errno.EINVAL.negated }
        defer { putNode(node) }
        if node.proc === targetProc {
            fp.put32(strong ? BinderObjectType.binder.rawValue : BinderObjectType.weakBinder.rawValue, 0)
            fp.put64(node.ptr, 8)
            fp.put64(node.cookie, 16)
            _ = incNode(node, strong: strong, internal: false, targetThread: nil)
        } else {
            let (r, dest) = incRefForNode(targetProc, node, strong: strong, targetThread: nil)
            if r != 0 { return r }
            fp.put64(0, 8)
            fp.put32(dest!.desc, 8)
            fp.put64(0, 16)
        }
        return 0
    }

    /// Mirrors `binder_transaction_buffer_release` for objects in [offStart, offEnd). `thread`
    /// is the thread freeing the buffer (BC_FREE_BUFFER), if any: the fds of its FDAs close in
    /// that thread's process.
    func transactionBufferRelease(_ proc: Proc, _ b: Buffer, offEnd: UInt64?, isFailure: Bool, thread: Thread?) {
        if let n = b.targetNode { decNode(n, strong: true, internal: false) }
        let offStart = (b.dataSize &+ 7) & ~7
        let end = offEnd ?? (offStart &+ b.offsetsSize)
        var off = offStart
        while off < end {
            defer { off &+= 8 }
            guard let ob = copyFromBuffer(proc, b, off, 8) else { continue }
            let (size, obj) = getObject(proc, sender: nil, b, ob.le64(at: 0))
            if size == 0 { continue }
            switch obj.type {
            case .binder, .weakBinder:
                if let n = getNode(proc, ptr: obj.u64(8)) {
                    decNode(n, strong: obj.type == .binder, internal: false)
                    putNode(n)
                }
            case .handle, .weakHandle:
                _ = updateRefForHandle(proc, obj.u32(8), increment: false, strong: obj.type == .handle)
            case .fda where !isFailure:
                // The receiver owns an FD object's fd, but an FDA's fds belong to the buffer.
                let numValid = (off - offStart) / 8
                guard let thread, let (parent, _) = validatePtr(proc, b, index: obj.u64(16), offStart: offStart, numValid: numValid) else { continue }
                let numFDs = obj.u64(8), parentOffset = obj.u64(24), plen = parent.u64(16)
                let (fdBufSize, ov) = numFDs.multipliedReportingOverflow(by: 4)
                if numFDs >= UInt64.max / 4 || ov || fdBufSize > plen || parentOffset > plen - fdBufSize { continue }
                let fdaOffset = parent.u64(8) &- (base(of: proc) &+ b.start) &+ parentOffset
                for i in 0..<numFDs {
                    guard let fd = copyFromBuffer(proc, b, fdaOffset &+ 4 &* i, 4) else { continue }
                    // binder_deferred_fd_close: the freeing process's fd, whatever it holds now.
                    closeFile(thread.proc.index, Int32(bitPattern: fd.le32(at: 0)), putOnReturn: true)
                    thread.looperNeedReturn = true
                }
            default:
                break  // FD: the receiver owns it; PTR: nothing; FDA of a failure: never installed
            }
            if off > UInt64.max - 8 { break }
        }
    }

    /// Mirrors `binder_free_buf`.
    func freeBuf(_ proc: Proc, _ b: Buffer, isFailure: Bool, thread: Thread?) {
        if let t = b.transaction { t.buffer = nil; b.transaction = nil }
        if b.asyncTransaction, let n = b.targetNode {
            if let w = dequeueHead(n.asyncTodo) { enqueueProcWork(w, proc) } else { n.hasAsyncTransaction = false }
        }
        transactionBufferRelease(proc, b, offEnd: nil, isFailure: isFailure, thread: thread)
        proc.alloc.freeBuf(b)
    }

    /// Mirrors `binder_proc_transaction`. Returns 0 or a BR code.
    func procTransaction(_ t: Transaction, _ proc: Proc, _ thread: Thread?) -> UInt32 {
        let oneway = t.flags & TransactionFlags.oneWay != 0
        var pendingAsync = false
        var frozen = false
        var outdated: Transaction?
        let node = t.buffer?.targetNode
        if oneway, let node {
            if node.hasAsyncTransaction { pendingAsync = true } else { node.hasAsyncTransaction = true }
        }
        if proc.isFrozen {
            frozen = true
            proc.syncRecv = proc.syncRecv || !oneway
            proc.asyncRecv = proc.asyncRecv || oneway
        }
        if (frozen && !oneway) || proc.isDead || (thread?.isDead ?? false) {
            return frozen ? BinderReturn.frozenReply.rawValue : BinderReturn.deadReply.rawValue
        }
        var thread = thread
        if thread == nil && !pendingAsync { thread = selectThread(proc) }
        if let th = thread {
            enqueueThreadWork(th, t.work)
        } else if !pendingAsync {
            enqueue(t.work, proc.todo)
        } else if let node {
            if frozen && t.flags & TransactionFlags.updateTxn != 0 {
                if let old = findOutdatedTransaction(t, node) {
                    dequeue(old.work)
                    proc.outstandingTxns -= 1
                    outdated = old
                }
            }
            enqueue(t.work, node.asyncTodo)
        }
        if !pendingAsync { wakeUp(proc, thread) }
        proc.outstandingTxns += 1
        // The superseded transaction's buffer is released and freed directly (not through
        // `binder_free_buf`, so the node's async queue does not advance).
        if let old = outdated, let ob = old.buffer {
            old.buffer = nil
            ob.transaction = nil
            freeFdFixups(old)
            transactionBufferRelease(proc, ob, offEnd: nil, isFailure: true, thread: nil)
            proc.alloc.freeBuf(ob)
        }
        return oneway && frozen ? BinderReturn.transactionPendingFrozen.rawValue : 0
    }

    /// Mirrors `binder_find_outdated_transaction_ilocked` + `binder_can_update_transaction`.
    func findOutdatedTransaction(_ t: Transaction, _ node: Node) -> Transaction? {
        let both = TransactionFlags.oneWay | TransactionFlags.updateTxn
        for w in node.asyncTodo.items {
            guard w.type == .transaction, let old = w.transaction else { continue }
            guard let ob = old.buffer, let nb = t.buffer else { continue }
            if old.flags & both == both && t.flags & both == both && old.toProc === t.toProc
                && old.code == t.code && old.flags == t.flags && ob.pid == nb.pid
                && ob.targetNode?.ptr == nb.targetNode?.ptr && ob.targetNode?.cookie == nb.targetNode?.cookie {
                return old
            }
        }
        return nil
    }
}
