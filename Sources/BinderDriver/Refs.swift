import BinderUAPI

extension BinderDriver {
    /// `binder_new_node` / `binder_init_node_ilocked`: find or create (with a temporary ref).
    func newNode(_ p: Proc, ptr: UInt64, cookie: UInt64, flags: UInt32) -> Node {
        if let n = p.nodes[ptr] { n.tmpRefs += 1; return n }
        let n = Node(id: nextID(), proc: p, ptr: ptr, cookie: cookie, flags: flags)
        allNodes.append(n)
        n.tmpRefs = 1
        p.nodes[ptr] = n
        return n
    }

    /// `binder_put_node` → `binder_dec_node_tmpref`
    func putNode(_ n: Node) {
        n.tmpRefs -= 1
        _ = decNode(n, strong: false, internal: true)
    }

    /// `binder_inc_node_nilocked`
    func incNode(_ n: Node, strong: Bool, internal intl: Bool, targetThread: Thread?) -> Int32 {
        if strong {
            if intl {
                if targetThread == nil && n.internalStrongRefs == 0 &&
                    !(n.proc != nil && n === ctxMgrNode && n.hasStrongRef) {
                    return -Errno.EINVAL.rawValue
                }
                n.internalStrongRefs += 1
            } else {
                n.localStrongRefs += 1
            }
            if !n.hasStrongRef, let th = targetThread {
                dequeueWork(n)
                enqueueDeferredThreadWork(th, n)
            }
        } else {
            if !intl { n.localWeakRefs += 1 }
            if !n.hasWeakRef, let th = targetThread, !n.isQueued { th.todo.append(n) }
        }
        return 0
    }

    /// `binder_dec_node_nilocked`; returns true when the node is freed.
    @discardableResult
    func decNode(_ n: Node, strong: Bool, internal intl: Bool) -> Bool {
        if strong {
            if intl { n.internalStrongRefs -= 1 } else { n.localStrongRefs -= 1 }
            if n.localStrongRefs != 0 || n.internalStrongRefs != 0 { return false }
        } else {
            if !intl { n.localWeakRefs -= 1 }
            if n.localWeakRefs != 0 || n.tmpRefs != 0 || !n.refs.isEmpty { return false }
        }
        if let owner = n.proc, n.hasStrongRef || n.hasWeakRef {
            #if BINDER_MUTANTS
            if !n.isQueued, Mutant.active == .nodeWorkNoWakeup { owner.todo.append(n); return false }
            #endif
            if !n.isQueued { enqueueProcWork(n, owner) }
        } else if n.refs.isEmpty && n.localStrongRefs == 0 && n.localWeakRefs == 0 && n.tmpRefs == 0 {
            if let owner = n.proc {
                dequeueWork(n)
                if owner.nodes[n.ptr] === n { owner.nodes[n.ptr] = nil }
            }
            return true
        }
        return false
    }

    /// `binder_get_ref_for_node_olocked` with a new ref: lowest free handle.
    func getOrCreateRef(_ p: Proc, _ n: Node) -> (Ref, Bool) {
        if let r = p.refsByNode[ObjectIdentifier(n)] { return (r, false) }
        var offset: UInt32 = n === ctxMgrNode ? 0 : 1
        #if BINDER_MUTANTS
        if Mutant.active == .handleStartsAtZero { offset = 0 }
        #endif
        var desc = p.acquireDesc(offset: offset)
        #if BINDER_MUTANTS
        if Mutant.active == .handlesNotReused {
            p.releaseDesc(desc)
            let maxUsed = p.refsByDesc.keys.max().map { $0 + 1 } ?? offset
            desc = max(maxUsed, offset)
            while p.refsByDesc[desc] != nil { desc += 1 }
            let w = Int(desc / 64); while w >= p.descBits.count { p.descBits.append(0) }
            p.descBits[w] |= UInt64(1) << UInt64(desc % 64)
        }
        #endif
        _ = offset
        let r = Ref(id: nextID(), desc: desc, proc: p, node: n)
        p.refsByDesc[desc] = r
        p.refsByNode[ObjectIdentifier(n)] = r
        n.refs.append(r)
        return (r, true)
    }

    /// `binder_inc_ref_olocked`
    func incRef(_ r: Ref, strong: Bool, targetThread: Thread?) -> Int32 {
        if strong {
            if r.strong == 0 { let e = incNode(r.node, strong: true, internal: true, targetThread: targetThread); if e != 0 { return e } }
            r.strong += 1
        } else {
            if r.weak == 0 { let e = incNode(r.node, strong: false, internal: true, targetThread: targetThread); if e != 0 { return e } }
            r.weak += 1
        }
        return 0
    }

    /// `binder_inc_ref_for_node`: returns (error, desc).
    func incRefForNode(_ p: Proc, _ n: Node, strong: Bool, targetThread: Thread?) -> (Int32, UInt32) {
        let (r, created) = getOrCreateRef(p, n)
        let e = incRef(r, strong: strong, targetThread: targetThread)
        if e != 0 && created { cleanupRef(r); return (e, 0) }
        return (e, r.desc)
    }

    /// `binder_dec_ref_olocked`; returns true when the ref was deleted.
    func decRef(_ r: Ref, strong: Bool) -> Bool {
        if strong {
            if r.strong == 0 { return false }
            r.strong -= 1
            if r.strong == 0 { decNode(r.node, strong: true, internal: true) }
        } else {
            if r.weak == 0 { return false }
            r.weak -= 1
        }
        if r.strong == 0 && r.weak == 0 { cleanupRef(r); return true }
        return false
    }

    /// `binder_cleanup_ref_olocked` (+ `binder_free_ref`)
    func cleanupRef(_ r: Ref) {
        let p = r.proc
        p.releaseDesc(r.desc)
        p.refsByDesc[r.desc] = nil
        p.refsByNode[ObjectIdentifier(r.node)] = nil
        let n = r.node
        if r.strong > 0 { decNode(n, strong: true, internal: true) }
        if let i = n.refs.lastIndex(where: { $0 === r }) { n.refs.remove(at: i) }
        decNode(n, strong: false, internal: true)
        if let d = r.death { dequeueWork(d) }
        if let f = r.freeze { dequeueWork(f) }
    }

    /// `binder_update_ref_for_handle`
    func updateRefForHandle(_ p: Proc, _ desc: UInt32, increment: Bool, strong: Bool) -> Int32 {
        guard let r = p.refsByDesc[desc] else { return -Errno.EINVAL.rawValue }
        #if BINDER_MUTANTS
        if !(Mutant.active == .acquireUpgradesWeak && increment) { if strong && r.strong == 0 { return -Errno.EINVAL.rawValue } }
        #else
        if strong && r.strong == 0 { return -Errno.EINVAL.rawValue }
        #endif
        if increment { return incRef(r, strong: strong, targetThread: nil) }
        _ = decRef(r, strong: strong)
        return 0
    }

    // MARK: buffers

    /// BC_FREE_BUFFER: `binder_alloc_prepare_to_free` + `binder_free_buf`.
    func freeBufferCmd(_ p: Proc, _ th: Thread, _ uptr: UInt64) {
        guard p.alloc.bufferSize > 0 else { return }
        let off = uptr &- p.mapBase
        guard off < UInt64(p.alloc.bufferSize), let b = p.alloc.allocated[Int(off)] else { return }
        if !p.alloc.blocks[Int(b)].allowUserFree { return }
        p.alloc.blocks[Int(b)].allowUserFree = false
        freeBuf(p, b, isFailure: false, closer: th)
    }

    /// `binder_free_buf`. `closer` is the thread freeing the buffer: an FDA's fds close in its
    /// process.
    func freeBuf(_ p: Proc, _ b: Int32, isFailure: Bool, closer: Thread?) {
        if let t = p.alloc.txn[Int(b)] { t.buffer = -1; p.alloc.txn[Int(b)] = nil }
        if p.alloc.blocks[Int(b)].async, let n = p.alloc.targetNode[Int(b)] {
            if let w = n.asyncTodo.popHead() { enqueueProcWork(w, p) } else { n.hasAsyncTransaction = false }
        }
        let blk = p.alloc.blocks[Int(b)]
        let offEnd = ((blk.dataSize &+ 7) & ~7) &+ blk.offsetsSize
        bufferRelease(p, b, offEnd: offEnd, isFailure: isFailure, closer: closer)
        p.alloc.freeBuf(b)
    }

    /// `binder_transaction_buffer_release` (objects are read back from the target buffer). An FD
    /// object's fd belongs to the receiver and stays; an FDA's fds belong to the buffer and are
    /// closed in `closer`'s process, unless `isFailure` (they were never installed) or there is
    /// no freeing thread.
    func bufferRelease(_ p: Proc, _ b: Int32, offEnd: UInt64, isFailure: Bool, closer: Thread?) {
        if let n = p.alloc.targetNode[Int(b)] { decNode(n, strong: true, internal: false) }
        let dataSize = p.alloc.blocks[Int(b)].dataSize
        let offStart = (dataSize &+ 7) & ~7
        var bo = offStart
        while bo < offEnd {
            defer { bo &+= 8 }
            guard let objOff = bufReadU64(p, b, bo) else { continue }
            guard let obj = getObject(p, b, objOff) else { continue }
            let type = obj.le32(at: 0)
            switch type {
            case BinderObjectType.binder.rawValue, BinderObjectType.weakBinder.rawValue:
                guard let n = p.nodes[obj.le64(at: 8)] else { break }
                n.tmpRefs += 1
                decNode(n, strong: type == BinderObjectType.binder.rawValue, internal: false)
                putNode(n)
            case BinderObjectType.handle.rawValue, BinderObjectType.weakHandle.rawValue:
                _ = updateRefForHandle(p, obj.le32(at: 8), increment: false, strong: type == BinderObjectType.handle.rawValue)
            case BinderObjectType.fda.rawValue:
                guard !isFailure, let closer else { break }
                closeFDArray(p, b, obj, offStart: offStart, numValid: (bo - offStart) / 8, closer: closer)
            default:
                break
            }
        }
    }

    /// Mirrors `binder_get_object`: the object at `offset` of buffer `b` of `p`, bounded by the
    /// buffer's data size; returns its bytes (count = object size) or nil. The bytes come from the
    /// sender's memory at `ubuf + offset` when a sender is given and `ubuf` is not NULL, and from
    /// the buffer itself otherwise (which may hold stale bytes of an earlier transaction).
    func getObject(_ p: Proc, _ b: Int32, sender: (proc: Proc, ubuf: UInt64)? = nil, _ offset: UInt64) -> [UInt8]? {
        let ds = p.alloc.blocks[Int(b)].dataSize
        guard offset <= ds else { return nil }
        let readSize = Int(min(40, ds - offset))
        guard readSize >= 4, offset % 4 == 0 else { return nil }
        let bytes: [UInt8]?
        if let sender, sender.ubuf != 0 { bytes = getBytes(sender.proc, sender.ubuf &+ offset, readSize) } else { bytes = bufRead(p, b, offset, readSize) }
        guard let raw = bytes, let osz = BinderObjectType(rawValue: raw.le32(at: 0)).objectSize else { return nil }
        guard ds >= UInt64(osz), offset <= ds - UInt64(osz) else { return nil }
        return Array(raw[0..<osz])
    }
}
