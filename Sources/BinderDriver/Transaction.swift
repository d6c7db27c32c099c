import BinderUAPI

struct SGCopy { var offset: UInt64; var uaddr: UInt64; var length: UInt64 }
struct PtrFixup { var offset: UInt64; var data: UInt64; var skip: UInt64 }

extension BinderDriver {
    /// `binder_transaction`: BC_TRANSACTION / BC_REPLY (and the _SG forms).
    func transaction(_ proc: Proc, _ thread: Thread, _ tr: TransactionData, reply: Bool, extra extraIn: UInt64) {
        let tid = UInt32(truncatingIfNeeded: nextID())
        let extra = extraIn
        thread.eeID = tid; thread.eeCommand = BR_OK; thread.eeParam = 0
        var returnError: UInt32 = BR_OK
        var param: Int32 = 0
        var inReplyTo: Transaction?
        var targetThread: Thread?
        var targetProc: Proc?
        var targetNode: Node?
        let FAILED = BinderReturn.failedReply.rawValue, DEAD = BinderReturn.deadReply.rawValue

        func finishError() {
            if let irt = inReplyTo {
                if let from = irt.from, from.eeCommand == BR_OK {
                    from.eeID = tid; from.eeCommand = returnError; from.eeParam = param
                }
                thread.returnError.cmd = BinderReturn.transactionComplete.rawValue
                enqueueThreadWork(thread, thread.returnError)
                sendFailedReply(irt, returnError)
            } else {
                thread.eeID = tid; thread.eeCommand = returnError; thread.eeParam = param
                thread.returnError.cmd = returnError
                enqueueThreadWork(thread, thread.returnError)
            }
        }
        /// err_dead_binder / err_invalid_target_handle etc. (before any buffer exists)
        func failEarly() {
            if let n = targetNode { decNode(n, strong: true, internal: false); putNode(n) }
            finishError()
        }

        if reply {
            guard let irt = thread.transactionStack else {
                returnError = FAILED; param = -Errno.EPROTO.rawValue; failEarly(); return
            }
            if irt.toThread !== thread {
                returnError = FAILED; param = -Errno.EPROTO.rawValue; failEarly(); return
            }
            thread.transactionStack = irt.toParent
            inReplyTo = irt
            #if BINDER_MUTANTS
            if Mutant.active == .replyToWrongThread, let alt = irt.fromParent?.from { targetThread = alt } else { targetThread = irt.from }
            #else
            targetThread = irt.from
            #endif
            guard let tt = targetThread else { returnError = DEAD; failEarly(); return }
            if tt.transactionStack !== irt {
                returnError = FAILED; param = -Errno.EPROTO.rawValue
                inReplyTo = nil; targetThread = nil
                failEarly(); return
            }
            targetProc = tt.proc
        } else {
            if tr.handle != 0 {
                if let ref = proc.refsByDesc[tr.handle], ref.strong > 0 {
                    if let np = ref.node.proc {
                        targetNode = ref.node; targetProc = np
                        _ = incNode(ref.node, strong: true, internal: false, targetThread: nil)
                        ref.node.tmpRefs += 1
                    } else { returnError = DEAD }
                } else { returnError = FAILED }
            } else {
                if let m = ctxMgrNode {
                    if let np = m.proc {
                        targetNode = m; targetProc = np
                        _ = incNode(m, strong: true, internal: false, targetThread: nil)
                        m.tmpRefs += 1
                    } else { returnError = DEAD }
                } else { returnError = DEAD }
                if targetNode != nil && targetProc!.pid == proc.pid {
                    returnError = FAILED; param = -Errno.EINVAL.rawValue; failEarly(); return
                }
            }
            if targetNode == nil { param = -Errno.EINVAL.rawValue; failEarly(); return }
            if targetProc === proc { returnError = FAILED; param = -Errno.EINVAL.rawValue; failEarly(); return }
            if tr.flags & TransactionFlags.oneWay == 0 {
                if let w = thread.todo.head, w.kind == .transaction {
                    returnError = FAILED; param = -Errno.EPROTO.rawValue; failEarly(); return
                }
                if let top = thread.transactionStack {
                    if top.toThread !== thread {
                        returnError = FAILED; param = -Errno.EPROTO.rawValue; failEarly(); return
                    }
                    #if BINDER_MUTANTS
                    let routing = Mutant.active != .noCallChainRouting
                    #else
                    let routing = true
                    #endif
                    var tmp: Transaction? = top
                    while routing, let c = tmp {
                        if let f = c.from, f.proc === targetProc { targetThread = f; break }
                        tmp = c.fromParent
                    }
                }
            }
        }
        guard let tproc = targetProc else { return }

        let t = Transaction()
        allTransactions.append(t)
        t.debugID = Int(tid)
        if !reply && tr.flags & TransactionFlags.oneWay == 0 { t.from = thread }
        t.toProc = tproc; t.toThread = targetThread
        t.code = tr.code; t.flags = tr.flags
        if let n = targetNode, n.txnSecurityCtx {
            // no LSM provides security contexts: security_secid_to_secctx → -EOPNOTSUPP
            returnError = FAILED; param = -Errno.EOPNOTSUPP.rawValue; failEarly(); return
        }
        _ = extra
        let isAsync = !reply && tr.flags & TransactionFlags.oneWay != 0
        let r = tproc.alloc.newBuf(data: tr.dataSize, offsets: tr.offsetsSize, extra: extra, isAsync: isAsync, senderPid: proc.pid)
        if r < 0 {
            param = Int32(r)
            returnError = param == -Errno.ESRCH.rawValue ? DEAD : FAILED
            failEarly(); return
        }
        let blk = Int32(r)
        let alloc = tproc.alloc
        t.buffer = blk; t.bufProc = tproc
        alloc.txn[Int(blk)] = t
        alloc.targetNode[Int(blk)] = targetNode
        alloc.blocks[Int(blk)].clearOnFree = tr.flags & TransactionFlags.clearBuf != 0
        let userData = tproc.mapBase &+ UInt64(alloc.blocks[Int(blk)].start)

        let offStart = (tr.dataSize &+ 7) & ~7
        var bufferOffset = offStart
        var sgcs: [SGCopy] = []
        var pfs: [PtrFixup] = []
        let tcomplete = SimpleWork(.complete)

        /// the error path after the buffer exists (err_translate_failed ... err_copy_data_failed)
        func failWithBuffer(_ rel: UInt64) {
            freeFdFixups(t)
            bufferRelease(tproc, blk, offEnd: rel, isFailure: true, closer: nil)
            if let n = targetNode { putNode(n) }
            targetNode = nil
            alloc.txn[Int(blk)] = nil
            alloc.freeBuf(blk)
            finishError()
        }

        // offsets array
        #if BINDER_MUTANTS
        if Mutant.active == .offsetsCountedTwice { copiedBytes &+= tr.offsetsSize }
        #endif
        if !copyUserToBuffer(from: proc, tr.offsets, to: tproc, block: blk, offset: offStart, count: tr.offsetsSize) {
            returnError = FAILED; param = -Errno.EFAULT.rawValue; failWithBuffer(bufferOffset); return
        }
        if tr.offsetsSize % 8 != 0 || extra % 8 != 0 {
            returnError = FAILED; param = -Errno.EINVAL.rawValue; failWithBuffer(bufferOffset); return
        }
        let offEnd = offStart &+ tr.offsetsSize
        var sgOff = (offEnd &+ 7) & ~7
        let sgEnd = sgOff &+ extra
        var offMin: UInt64 = 0
        var userOffset: UInt64 = 0
        var lastFixupObj: UInt64 = 0
        var lastFixupMin: UInt64 = 0
        let ubuf = tr.buffer
        while bufferOffset < offEnd {
            guard let objOff = bufReadU64(tproc, blk, bufferOffset) else {
                returnError = FAILED; param = -Errno.EINVAL.rawValue; failWithBuffer(bufferOffset); return
            }
            let copySize = objOff &- userOffset
            if copySize != 0 && (userOffset > objOff || objOff > tr.dataSize ||
                !copyUserToBuffer(from: proc, ubuf &+ userOffset, to: tproc, block: blk, offset: userOffset, count: copySize)) {
                returnError = FAILED; param = -Errno.EFAULT.rawValue; failWithBuffer(bufferOffset); return
            }
            guard var obj = getObject(tproc, blk, sender: (proc, ubuf), objOff), objOff >= offMin else {
                returnError = FAILED; param = -Errno.EINVAL.rawValue; failWithBuffer(bufferOffset); return
            }
            let osz = UInt64(obj.count)
            userOffset = objOff &+ osz
            offMin = objOff &+ osz
            let type = obj.le32(at: 0)
            var ret: Int32 = 0
            switch type {
            case BinderObjectType.binder.rawValue, BinderObjectType.weakBinder.rawValue:
                ret = translateBinder(&obj, proc, thread, tproc)
            case BinderObjectType.handle.rawValue, BinderObjectType.weakHandle.rawValue:
                ret = translateHandle(&obj, proc, tproc)
            case BinderObjectType.fd.rawValue:
                // Copied with `pad_binder` (the fd and the 4 bytes after it) zeroed; the
                // receiver's fd number lands in the slot when it reads.
                ret = translateFD(obj.le32(at: 8), offset: objOff &+ 8, t, sender: proc, inReplyTo: inReplyTo, targetNode: targetNode)
                obj.putLE64(0, at: 8)
            case BinderObjectType.fda.rawValue:
                let numValid = (bufferOffset - offStart) / 8
                guard let (parent, parentOff) = validatePtr(tproc, blk, index: obj.le64(at: 16), offStart: offStart, numValid: numValid) else {
                    returnError = FAILED; param = -Errno.EINVAL.rawValue; failWithBuffer(bufferOffset); return
                }
                if !validateFixup(tproc, blk, offStart: offStart, bufferObjOff: parentOff, fixupOff: obj.le64(at: 24), lastObjOff: lastFixupObj, lastMinOff: lastFixupMin) {
                    returnError = FAILED; param = -Errno.EINVAL.rawValue; failWithBuffer(bufferOffset); return
                }
                // With a NULL data pointer the kernel reads the parent from the target buffer through
                // the sender's allocator (a page of the wrong process); not modelled: the read fails.
                guard ubuf != 0, let uparent = getObject(tproc, blk, sender: (proc, ubuf), parentOff), uparent.count == 40 else {
                    returnError = FAILED; param = -Errno.EINVAL.rawValue; failWithBuffer(bufferOffset); return
                }
                ret = translateFDArray(&pfs, obj, parent: parent, senderParent: uparent, userData: userData, t, sender: proc, inReplyTo: inReplyTo, targetNode: targetNode)
                if ret > 0 { ret = -Errno.EINVAL.rawValue }
                if ret == 0 {
                    lastFixupObj = parentOff
                    lastFixupMin = obj.le64(at: 24) &+ 4 &* obj.le64(at: 8)
                }
            case BinderObjectType.ptr.rawValue:
                let length = obj.le64(at: 16)
                if length > sgEnd &- sgOff {
                    returnError = FAILED; param = -Errno.EINVAL.rawValue; failWithBuffer(bufferOffset); return
                }
                sgcs.append(SGCopy(offset: sgOff, uaddr: obj.le64(at: 8), length: length))
                obj.putLE64(userData &+ sgOff, at: 8)
                sgOff &+= (length &+ 7) & ~7
                let numValid = (bufferOffset - offStart) / 8
                ret = fixupParent(&pfs, tproc, blk, obj, offStart: offStart, numValid: numValid, lastObjOff: lastFixupObj, lastMinOff: lastFixupMin, userData: userData)
                if ret == 0 { lastFixupObj = objOff; lastFixupMin = 0 }
            default:
                returnError = FAILED; param = -Errno.EINVAL.rawValue; failWithBuffer(bufferOffset); return
            }
            if ret < 0 || !bufWrite(tproc, blk, objOff, obj) {
                returnError = FAILED; param = ret; failWithBuffer(bufferOffset); return
            }
            copiedBytes &+= osz
            bufferOffset &+= 8
        }
        // trailing data
        var trailing = tr.dataSize &- userOffset
        #if BINDER_MUTANTS
        if Mutant.active == .trailingOffByOne { trailing &+= 1 }
        #endif
        if !copyUserToBuffer(from: proc, ubuf &+ userOffset, to: tproc, block: blk, offset: userOffset, count: trailing) {
            returnError = FAILED; param = -Errno.EFAULT.rawValue; failWithBuffer(bufferOffset); return
        }
        // deferred scatter-gather copies
        let sgRet = deferredCopies(proc, tproc, blk, sgcs, pfs)
        if sgRet != 0 {
            returnError = FAILED; param = sgRet; failWithBuffer(bufferOffset); return
        }
        if alloc.blocks[Int(blk)].spamSuspect { tcomplete.kind = .spamSuspect }

        if reply {
            let tt = targetThread!
            enqueueThreadWork(thread, tcomplete)
            if tt.isDead {
                returnError = DEAD
                dequeueWork(tcomplete)
                failWithBuffer(bufferOffset); return
            }
            popTransaction(tt, inReplyTo!)
            enqueueThreadWork(tt, t)
            tproc.outstandingTxns += 1
            wakeUp(tt)  // wake_up_interruptible_sync(&target_thread->wait)
            freeTransaction(inReplyTo!)
        } else if tr.flags & TransactionFlags.oneWay == 0 {
            #if BINDER_MUTANTS
            if Mutant.active == .completeImmediately { enqueueThreadWork(thread, tcomplete) } else { enqueueDeferredThreadWork(thread, tcomplete) }
            #else
            enqueueDeferredThreadWork(thread, tcomplete)
            #endif
            t.fromParent = thread.transactionStack
            thread.transactionStack = t
            let e = procTransaction(t, tproc, targetThread)
            if e != 0 {
                popTransaction(thread, t)
                returnError = e
                dequeueWork(tcomplete)
                failWithBuffer(bufferOffset); return
            }
        } else {
            let e = procTransaction(t, tproc, nil)
            if e == BinderReturn.transactionPendingFrozen.rawValue { tcomplete.kind = .pending }
            enqueueThreadWork(thread, tcomplete)
            if e != 0 && e != BinderReturn.transactionPendingFrozen.rawValue {
                returnError = e
                dequeueWork(tcomplete)
                failWithBuffer(bufferOffset); return
            }
        }
        if let n = targetNode { putNode(n) }
    }

    /// `binder_proc_transaction`
    func procTransaction(_ t: Transaction, _ proc: Proc, _ thread: Thread?) -> UInt32 {
        let node = proc.alloc.targetNode[Int(t.buffer)]!
        let oneway = t.flags & TransactionFlags.oneWay != 0
        var pendingAsync = false
        var frozen = false
        if oneway {
            if node.hasAsyncTransaction { pendingAsync = true } else { node.hasAsyncTransaction = true }
        }
        if proc.isFrozen { frozen = true; proc.syncRecv = proc.syncRecv || !oneway; proc.asyncRecv = proc.asyncRecv || oneway }
        if (frozen && !oneway) || proc.isDead || (thread?.isDead ?? false) {
            return frozen ? BinderReturn.frozenReply.rawValue : BinderReturn.deadReply.rawValue
        }
        var outdated: Transaction?
        var thread = thread
        if thread == nil && !pendingAsync { thread = selectThread(proc) }
        if let th = thread { enqueueThreadWork(th, t) }
        else if !pendingAsync { proc.todo.append(t) }
        else {
            if t.flags & TransactionFlags.updateTxn != 0 && frozen {
                var w = node.asyncTodo.head
                while let c = w {
                    if let o = c as? Transaction, canUpdate(o, t) { outdated = o; break }
                    w = c.next
                }
                if let o = outdated { dequeueWork(o); proc.outstandingTxns -= 1 }
            }
            node.asyncTodo.append(t)
        }
        // binder_wakeup_thread_ilocked(proc, thread, !oneway)
        if !pendingAsync { wakeUp(proc, thread) }
        proc.outstandingTxns += 1
        // The superseded transaction's files go, and its buffer is released (as a failure: its
        // fds were never installed) and freed directly, so the node's async queue stays put.
        if let o = outdated, o.buffer >= 0 {
            let b = o.buffer
            o.buffer = -1
            proc.alloc.txn[Int(b)] = nil
            freeFdFixups(o)
            let blk = proc.alloc.blocks[Int(b)]
            bufferRelease(proc, b, offEnd: ((blk.dataSize &+ 7) & ~7) &+ blk.offsetsSize, isFailure: true, closer: nil)
            proc.alloc.freeBuf(b)
        }
        return oneway && frozen ? BinderReturn.transactionPendingFrozen.rawValue : 0
    }

    /// `binder_can_update_transaction`
    func canUpdate(_ a: Transaction, _ b: Transaction) -> Bool {
        let both = TransactionFlags.oneWay | TransactionFlags.updateTxn
        guard a.flags & b.flags & both == both, let ap = a.toProc, let bp = b.toProc, a.buffer >= 0, b.buffer >= 0 else { return false }
        guard let an = ap.alloc.targetNode[Int(a.buffer)], let bn = bp.alloc.targetNode[Int(b.buffer)] else { return false }
        return ap === bp && a.code == b.code && a.flags == b.flags &&
            ap.alloc.blocks[Int(a.buffer)].pid == bp.alloc.blocks[Int(b.buffer)].pid &&
            an.ptr == bn.ptr && an.cookie == bn.cookie
    }

    /// `binder_translate_binder`
    func translateBinder(_ obj: inout [UInt8], _ proc: Proc, _ thread: Thread, _ target: Proc) -> Int32 {
        let ptr = obj.le64(at: 8), cookie = obj.le64(at: 16)
        let node: Node
        if let n = proc.nodes[ptr] { n.tmpRefs += 1; node = n }
        else { node = newNode(proc, ptr: ptr, cookie: cookie, flags: obj.le32(at: 4)) }
        if cookie != node.cookie { putNode(node); return -Errno.EINVAL.rawValue }
        let strong = obj.le32(at: 0) == BinderObjectType.binder.rawValue
        let (e, desc) = incRefForNode(target, node, strong: strong, targetThread: thread)
        if e != 0 { putNode(node); return e }
        obj.putLE32(strong ? BinderObjectType.handle.rawValue : BinderObjectType.weakHandle.rawValue, at: 0)
        obj.putLE64(0, at: 8)
        obj.putLE32(desc, at: 8)
        obj.putLE64(0, at: 16)
        putNode(node)
        return 0
    }

    /// `binder_translate_handle`
    func translateHandle(_ obj: inout [UInt8], _ proc: Proc, _ target: Proc) -> Int32 {
        let strong = obj.le32(at: 0) == BinderObjectType.handle.rawValue
        guard let ref = proc.refsByDesc[obj.le32(at: 8)], !strong || ref.strong > 0 else { return -Errno.EINVAL.rawValue }
        let node = ref.node
        node.tmpRefs += 1
        var ret: Int32 = 0
        if node.proc === target {
            obj.putLE32(strong ? BinderObjectType.binder.rawValue : BinderObjectType.weakBinder.rawValue, at: 0)
            obj.putLE64(node.ptr, at: 8)
            obj.putLE64(node.cookie, at: 16)
            _ = incNode(node, strong: strong, internal: false, targetThread: nil)
        } else {
            let (e, desc) = incRefForNode(target, node, strong: strong, targetThread: nil)
            ret = e
            if e == 0 {
                obj.putLE64(0, at: 8)
                obj.putLE32(desc, at: 8)
                obj.putLE64(0, at: 16)
            }
        }
        putNode(node)
        return ret
    }

    /// `binder_translate_fd_array`: the slots in the parent's blob are skipped by the deferred
    /// copy (`binder_add_fixup` with `skip`); each fd is read from the sender's array in turn
    /// (a fault is -EINVAL) and translated (`translateFD`, in Files.swift). Fds translated before
    /// a failure stay queued for the error path to put.
    func translateFDArray(_ pfs: inout [PtrFixup], _ fda: [UInt8], parent: [UInt8], senderParent: [UInt8], userData: UInt64,
                          _ t: Transaction, sender: Proc, inReplyTo: Transaction?, targetNode: Node?) -> Int32 {
        let num = fda.le64(at: 8)
        if num == 0 { return 0 }
        let (fdBuf, ov) = num.multipliedReportingOverflow(by: 4)
        if ov || num >= UInt64.max / 4 { return -Errno.EINVAL.rawValue }
        let plen = parent.le64(at: 16), poff = fda.le64(at: 24)
        if fdBuf > plen || poff > plen - fdBuf { return -Errno.EINVAL.rawValue }
        let fdaOffset = parent.le64(at: 8) &- userData &+ poff
        let senderBase = senderParent.le64(at: 8) &+ poff
        if fdaOffset % 4 != 0 || senderBase % 4 != 0 { return -Errno.EINVAL.rawValue }
        addFixup(&pfs, PtrFixup(offset: fdaOffset, data: 0, skip: fdBuf))
        var i: UInt64 = 0
        while i < num {
            guard let fd = getU32(sender, senderBase &+ 4 &* i) else { return -Errno.EINVAL.rawValue }
            let r = translateFD(fd, offset: fdaOffset &+ 4 &* i, t, sender: sender, inReplyTo: inReplyTo, targetNode: targetNode)
            if r != 0 { return r }
            i += 1
        }
        return 0
    }

    /// `binder_add_fixup`: keep sorted by offset.
    func addFixup(_ pfs: inout [PtrFixup], _ pf: PtrFixup) {
        var i = pfs.count
        while i > 0 {
            if pfs[i - 1].offset < pf.offset { pfs.insert(pf, at: i); return }
            i -= 1
        }
        pfs.insert(pf, at: 0)
    }

    /// `binder_validate_ptr`: returns the translated parent object (from the target buffer) and its offset.
    func validatePtr(_ p: Proc, _ b: Int32, index: UInt64, offStart: UInt64, numValid: UInt64) -> ([UInt8], UInt64)? {
        if index >= numValid { return nil }
        let bo = offStart &+ index &* 8
        guard let objOff = bufReadU64(p, b, bo), let obj = getObject(p, b, objOff),
              obj.le32(at: 0) == BinderObjectType.ptr.rawValue else { return nil }
        return (obj, objOff)
    }

    /// `binder_validate_fixup`
    func validateFixup(_ p: Proc, _ b: Int32, offStart: UInt64, bufferObjOff: UInt64, fixupOff: UInt64, lastObjOff: UInt64, lastMinOff: UInt64) -> Bool {
        if lastObjOff == 0 { return false }
        var last = lastObjOff, minOff = lastMinOff
        var guardCount = 0
        while last != bufferObjOff {
            guardCount += 1
            if guardCount > 1_000_000 { return false }
            guard let o = getObject(p, b, last), o.count == 40 else { return false }
            if o.le32(at: 4) & BufferObjectFlags.hasParent == 0 { return false }
            minOff = o.le64(at: 32) &+ 8
            guard let n = bufReadU64(p, b, offStart &+ o.le64(at: 24) &* 8) else { return false }
            last = n
        }
        return fixupOff >= minOff
    }

    /// `binder_fixup_parent`
    func fixupParent(_ pfs: inout [PtrFixup], _ p: Proc, _ b: Int32, _ bp: [UInt8], offStart: UInt64, numValid: UInt64,
                     lastObjOff: UInt64, lastMinOff: UInt64, userData: UInt64) -> Int32 {
        if bp.le32(at: 4) & BufferObjectFlags.hasParent == 0 { return 0 }
        guard let (parent, parentOff) = validatePtr(p, b, index: bp.le64(at: 24), offStart: offStart, numValid: numValid) else {
            return -Errno.EINVAL.rawValue
        }
        let poff = bp.le64(at: 32)
        if !validateFixup(p, b, offStart: offStart, bufferObjOff: parentOff, fixupOff: poff, lastObjOff: lastObjOff, lastMinOff: lastMinOff) {
            return -Errno.EINVAL.rawValue
        }
        let plen = parent.le64(at: 16)
        if plen < 8 || poff > plen - 8 { return -Errno.EINVAL.rawValue }
        let off = poff &+ parent.le64(at: 8) &- userData
        addFixup(&pfs, PtrFixup(offset: off, data: bp.le64(at: 8), skip: 0))
        return 0
    }

    /// `binder_do_deferred_txn_copies`
    func deferredCopies(_ sender: Proc, _ tp: Proc, _ b: Int32, _ sgcs: [SGCopy], _ pfsIn: [PtrFixup]) -> Int32 {
        var ret = 0
        var pi = 0
        for sgc in sgcs {
            var copied: UInt64 = 0
            while copied < sgc.length {
                let left = sgc.length - copied
                let offset = sgc.offset &+ copied
                let copySize = pi < pfsIn.count ? min(left, pfsIn[pi].offset &- offset) : left
                if ret == 0 && copySize != 0 {
                    if !copyUserToBuffer(from: sender, sgc.uaddr &+ copied, to: tp, block: b, offset: offset, count: copySize) { ret = 1 }
                }
                copied &+= copySize
                if copySize != left {
                    let pf = pfsIn[pi]
                    if pf.skip != 0 { copied &+= pf.skip }
                    else {
                        if ret == 0 {
                            var d = [UInt8](); d.appendLE64(pf.data)
                            if !bufWrite(tp, b, pf.offset, d) { ret = -Int(Errno.EINVAL.rawValue) }
                        }
                        copied &+= 8
                    }
                    pi += 1
                }
            }
        }
        return ret > 0 ? -Errno.EINVAL.rawValue : Int32(ret)
    }
}
