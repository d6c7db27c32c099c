import BinderUAPI

extension BinderModel {
    /// Mirrors `binder_get_node` / `binder_get_node_ilocked`: lookup by ptr, taking a node tmp ref
    /// that the caller must drop with `putNode`.
    func getNode(_ proc: Proc, ptr: UInt64) -> Node? {
        guard let n = proc.node(ptr: ptr) else { return nil }
        n.tmpRefs += 1
        return n
    }

    /// Mirrors `binder_put_node` → `binder_dec_node_tmpref`: drop a tmp ref and re-run the
    /// weak/internal decrement check (`binder_dec_node_nilocked(node, 0, 1)`), which may enqueue the
    /// node work on the owner's todo list or free the node.
    func putNode(_ n: Node) {
        n.tmpRefs -= 1
        decNode(n, strong: false, internal: true)
    }

    /// Mirrors `binder_new_node` / `binder_init_node_ilocked`: returns the existing node for `ptr`
    /// (flags/cookie ignored) or a fresh one; either way with a node tmp ref the caller must put.
    func newNode(_ proc: Proc, ptr: UInt64, cookie: UInt64, flags: UInt32) -> Node {
        if let existing = getNode(proc, ptr: ptr) { return existing }
        let n = track(Node(debugID: nextID(), proc: proc, ptr: ptr, cookie: cookie))
        n.tmpRefs = 1
        n.work.node = n
        n.minPriority = flags & FlatBinderFlags.priorityMask
        n.acceptFDs = flags & FlatBinderFlags.acceptsFDs != 0
        n.txnSecurityCtx = flags & FlatBinderFlags.txnSecurityCtx != 0
        proc.insertNode(n)
        return n
    }

    /// Mirrors `binder_inc_node_nilocked`. `targetThread` stands for the target list (a thread's todo).
    func incNode(_ node: Node, strong: Bool, internal isInternal: Bool, targetThread: Thread?) -> Int32 {
        if strong {
            if isInternal {
                if targetThread == nil && node.internalStrongRefs == 0
                    && !(node.proc != nil && node === ctxMgrNode && node.hasStrongRef) {
                    return Errno.EINVAL.negated
                }
                node.internalStrongRefs += 1
            } else {
                node.localStrongRefs += 1
            }
            if !node.hasStrongRef, let t = targetThread {
                dequeue(node.work)
                enqueueDeferredThreadWork(t, node.work)
            }
        } else {
            if !isInternal { node.localWeakRefs += 1 }
            if !node.hasWeakRef, let t = targetThread, !node.work.isQueued {
                enqueue(node.work, t.todo)
            }
        }
        return 0
    }

    /// Mirrors `binder_dec_node_nilocked` + `binder_free_node`. Returns true when the node was freed.
    @discardableResult
    func decNode(_ node: Node, strong: Bool, internal isInternal: Bool) -> Bool {
        if strong {
            if isInternal { node.internalStrongRefs -= 1 } else { node.localStrongRefs -= 1 }
            if node.localStrongRefs != 0 || node.internalStrongRefs != 0 { return false }
        } else {
            if !isInternal { node.localWeakRefs -= 1 }
            if node.localWeakRefs != 0 || node.tmpRefs != 0 || !node.refs.isEmpty { return false }
        }
        if let p = node.proc, node.hasStrongRef || node.hasWeakRef {
            if !node.work.isQueued { enqueueProcWork(node.work, p) }
        } else if node.refs.isEmpty && node.localStrongRefs == 0 && node.localWeakRefs == 0 && node.tmpRefs == 0 {
            if let p = node.proc {
                dequeue(node.work)
                p.removeNode(node)
            } else {
                deadNodes.removeAll { $0 === node }
            }
            return true
        }
        return false
    }

    /// Mirrors `get_ref_desc_olocked`: lowest free handle, from 0 only for the manager node.
    func newDesc(_ proc: Proc, for node: Node) -> UInt32 {
        var desc: UInt32 = node === ctxMgrNode ? 0 : 1
        for r in proc.refs {  // ascending
            if r.desc > desc { break }
            if r.desc == desc { desc &+= 1 }
        }
        return desc
    }

    /// Mirrors `binder_get_ref_for_node_olocked` with a new ref.
    func getOrCreateRef(_ proc: Proc, _ node: Node) -> (Ref, Bool) {
        if let r = proc.ref(node: node) { return (r, false) }
        let r = track(Ref(debugID: nextID(), proc: proc, node: node, desc: newDesc(proc, for: node)))
        proc.insertRef(r)
        node.refs.insert(r, at: 0)
        return (r, true)
    }

    /// Mirrors `binder_get_node_from_ref`: the node behind a handle, with a node tmp ref.
    func getNodeFromRef(_ proc: Proc, _ desc: UInt32, needStrong: Bool) -> Node? {
        guard let r = lookupRef(proc, desc, needStrong: needStrong) else { return nil }
        r.node.tmpRefs += 1
        return r.node
    }

    /// Mirrors `binder_get_ref_olocked`.
    func lookupRef(_ proc: Proc, _ desc: UInt32, needStrong: Bool) -> Ref? {
        guard let r = proc.ref(desc: desc) else { return nil }
        if needStrong && r.strong == 0 { return nil }
        return r
    }

    /// Mirrors `binder_inc_ref_olocked`.
    func incRef(_ ref: Ref, strong: Bool, targetThread: Thread?) -> Int32 {
        if strong {
            if ref.strong == 0 {
                let r = incNode(ref.node, strong: true, internal: true, targetThread: targetThread)
                if r != 0 { return r }
            }
            ref.strong += 1
        } else {
            if ref.weak == 0 {
                let r = incNode(ref.node, strong: false, internal: true, targetThread: targetThread)
                if r != 0 { return r }
            }
            ref.weak += 1
        }
        return 0
    }

    /// Mirrors `binder_dec_ref_olocked` (+ cleanup). Returns true if the ref was deleted.
    func decRef(_ ref: Ref, strong: Bool) -> Bool {
        if strong {
            if ref.strong == 0 { return false }
            ref.strong -= 1
            if ref.strong == 0 { decNode(ref.node, strong: true, internal: true) }
        } else {
            if ref.weak == 0 { return false }
            ref.weak -= 1
        }
        if ref.strong == 0 && ref.weak == 0 { cleanupRef(ref); return true }
        return false
    }

    /// Mirrors `binder_cleanup_ref_olocked` + `binder_free_ref`.
    func cleanupRef(_ ref: Ref) {
        let proc = ref.proc
        proc.refs.removeAll { $0 === ref }
        if ref.strong > 0 { decNode(ref.node, strong: true, internal: true) }
        ref.node.refs.removeAll { $0 === ref }
        decNode(ref.node, strong: false, internal: true)
        if let d = ref.death { dequeue(d.work); ref.death = nil }
        if let f = ref.freeze { dequeue(f.work); ref.freeze = nil }
    }

    /// Mirrors `binder_inc_ref_for_node`. Returns (errno, ref desc).
    func incRefForNode(_ proc: Proc, _ node: Node, strong: Bool, targetThread: Thread?) -> (Int32, Ref?) {
        let (ref, isNew) = getOrCreateRef(proc, node)
        let r = incRef(ref, strong: strong, targetThread: targetThread)
        if r != 0 && isNew { cleanupRef(ref); return (r, nil) }
        return (r, ref)
    }

    /// Mirrors `binder_update_ref_for_handle`.
    func updateRefForHandle(_ proc: Proc, _ desc: UInt32, increment: Bool, strong: Bool) -> Int32 {
        guard let ref = lookupRef(proc, desc, needStrong: strong) else { return Errno.EINVAL.negated }
        if increment { return incRef(ref, strong: strong, targetThread: nil) }
        _ = decRef(ref, strong: strong)
        return 0
    }

    /// Mirrors `binder_ioctl_set_ctx_mgr`.
    func setContextMgr(_ proc: Proc, ptr: UInt64, cookie: UInt64, flags: UInt32) -> Int32 {
        if ctxMgrNode != nil { return Errno.EBUSY.negated }
        if let uid = ctxMgrUID, uid != euid { return Errno.EPERM.negated }
        ctxMgrUID = euid
        let node = newNode(proc, ptr: ptr, cookie: cookie, flags: flags)  // takes a tmp ref
        node.localWeakRefs += 1
        node.localStrongRefs += 1
        node.hasStrongRef = true
        node.hasWeakRef = true
        ctxMgrNode = node
        putNode(node)
        return 0
    }
}
