import BinderUAPI

extension BinderModel {
    /// Mirrors `binder_transaction` for BC_TRANSACTION/BC_REPLY and their _SG forms.
    func binderTransaction(_ proc: Proc, _ thread: Thread, _ tr: TransactionData, reply: Bool, extra extraIn: UInt64) {
        let tid = nextID()
        thread.extendedError = ExtendedError(id: UInt32(truncatingIfNeeded: tid), command: BinderReturn.ok.rawValue, param: 0)
        var returnError: UInt32 = 0
        var param: Int32 = 0
        var inReplyTo: Transaction? = nil
        var targetThread: Thread? = nil
        var targetProc: Proc? = nil
        var targetNode: Node? = nil
        let extra = extraIn
        let failed = BinderReturn.failedReply.rawValue, dead = BinderReturn.deadReply.rawValue

        // Finish a failure that happened before a buffer existed.
        // binder_get_node_refs_for_txn took a local strong ref and a tmp ref on the target node; the
        // early error labels drop both (binder_dec_node, then binder_dec_node_tmpref).
        func fail() {
            if let n = targetNode { decNode(n, strong: true, internal: false); putNode(n) }
            reportError(proc, thread, inReplyTo, tid, returnError, param)
        }

        if reply {
            guard let top = thread.transactionStack else { returnError = failed; param = Errno.EPROTO.negated; return fail() }
            if top.toThread !== thread { returnError = failed; param = Errno.EPROTO.negated; return fail() }
            inReplyTo = top
            thread.transactionStack = top.toParent
            guard let from = top.from else { returnError = dead; return fail() }
            if from.transactionStack !== top {
                returnError = failed; param = Errno.EPROTO.negated; inReplyTo = nil; return fail()
            }
            targetThread = from
            targetProc = from.proc
        } else {
            let handle = tr.handle
            if handle != 0 {
                if let ref = lookupRef(proc, handle, needStrong: true) {
                    if let owner = ref.node.proc {
                        targetNode = ref.node; targetProc = owner
                        ref.node.localStrongRefs += 1  // binder_get_node_refs_for_txn: local strong + tmp ref
                        ref.node.tmpRefs += 1
                    } else { returnError = dead }
                } else { returnError = failed }
            } else {
                if let m = ctxMgrNode {
                    if let owner = m.proc { targetNode = m; targetProc = owner; m.localStrongRefs += 1; m.tmpRefs += 1 } else { returnError = dead }
                } else { returnError = dead }
                if targetNode != nil, targetProc!.pid == proc.pid {
                    returnError = failed; param = Errno.EINVAL.negated; return fail()
                }
            }
            if targetNode == nil { param = Errno.EINVAL.negated; return fail() }
            if targetProc === proc { returnError = failed; param = Errno.EINVAL.negated; return fail() }
            if tr.flags & TransactionFlags.oneWay == 0 {
                if let w = thread.todo.items.first, w.type == .transaction {
                    returnError = failed; param = Errno.EPROTO.negated; return fail()
                }
                if let top = thread.transactionStack {
                    if top.toThread !== thread { returnError = failed; param = Errno.EPROTO.negated; return fail() }
                    var tmp: Transaction? = top
                    while let c = tmp {
                        if let f = c.from, f.proc === targetProc { targetThread = f; break }
                        tmp = c.fromParent
                    }
                }
            }
        }
        guard let tproc = targetProc else { return fail() }

        let t = track(Transaction(debugID: tid))
        let tcomplete = Work(.transactionComplete)
        t.from = (!reply && tr.flags & TransactionFlags.oneWay == 0) ? thread : nil
        t.fromPid = proc.pid
        t.senderEUID = euid
        t.toProc = tproc
        t.toThread = targetThread
        t.code = tr.code
        t.flags = tr.flags

        if let n = targetNode, n.txnSecurityCtx {
            // No LSM provides security contexts: security_secid_to_secctx() fails.
            returnError = failed; param = Errno.EOPNOTSUPP.negated; return fail()
        }

        let isAsync = !reply && t.flags & TransactionFlags.oneWay != 0
        let buffer: Buffer
        switch tproc.alloc.newBuf(dataSize: tr.dataSize, offsetsSize: tr.offsetsSize, extraSize: extra, isAsync: isAsync, senderPid: proc.pid) {
        case .failure(let e):
            param = e.negated
            returnError = e == .ESRCH ? dead : failed
            return fail()
        case .success(let b):
            buffer = b
        }
        t.buffer = buffer
        buffer.transaction = t
        buffer.targetNode = targetNode
        buffer.clearOnFree = t.flags & TransactionFlags.clearBuf != 0

        var bufferOffset: UInt64 = 0
        // Failure after the buffer exists (err_copy_data_failed and friends).
        func failWithBuffer(dequeueComplete: Bool = false) {
            if dequeueComplete { dequeue(tcomplete) }
            freeFdFixups(t)
            transactionBufferRelease(tproc, buffer, offEnd: bufferOffset, isFailure: true, thread: nil)
            // its local strong ref was dropped by the release above; now binder_dec_node_tmpref
            if let n = targetNode { putNode(n) }
            targetNode = nil
            buffer.transaction = nil
            t.buffer = nil
            tproc.alloc.freeBuf(buffer)
            reportError(proc, thread, inReplyTo, tid, returnError, param)
        }

        let offStart = (tr.dataSize &+ 7) & ~7
        if !copyUserToBuffer(tproc, buffer, offStart, proc.index, tr.offsets, tr.offsetsSize) {
            returnError = failed; param = Errno.EFAULT.negated; return failWithBuffer()
        }
        if tr.offsetsSize % 8 != 0 || extra % 8 != 0 {
            returnError = failed; param = Errno.EINVAL.negated; return failWithBuffer()
        }
        let offEnd = offStart &+ tr.offsetsSize
        var sgOff = (offEnd &+ 7) & ~7
        let sgEnd = sgOff &+ extra
        var offMin: UInt64 = 0
        var userOffset: UInt64 = 0
        var lastFixupObjOff: UInt64 = 0
        var lastFixupMinOff: UInt64 = 0
        var sgCopies: [SGCopy] = []
        var fixups: [PtrFixup] = []
        let userBuffer = tr.buffer
        bufferOffset = offStart
        while bufferOffset < offEnd {
            guard let ob = copyFromBuffer(tproc, buffer, bufferOffset, 8) else {
                returnError = failed; param = Errno.EINVAL.negated; return failWithBuffer()
            }
            let objOff = ob.le64(at: 0)
            let copySize = objOff &- userOffset
            if copySize != 0 && (userOffset > objOff || objOff > tr.dataSize
                || !copyUserToBuffer(tproc, buffer, userOffset, proc.index, userBuffer &+ userOffset, copySize)) {
                returnError = failed; param = Errno.EFAULT.negated; return failWithBuffer()
            }
            let (objSize, objRead) = getObject(tproc, sender: (proc.index, userBuffer), buffer, objOff)
            if objSize == 0 || objOff < offMin {
                returnError = failed; param = Errno.EINVAL.negated; return failWithBuffer()
            }
            var obj = objRead
            userOffset = objOff + UInt64(objSize)
            offMin = userOffset
            let numValid = (bufferOffset - offStart) / 8
            switch obj.type {
            case .binder, .weakBinder, .handle, .weakHandle:
                var fp = RawObject(bytes: Array(obj.bytes[0..<24]))
                let r = (obj.type == .binder || obj.type == .weakBinder)
                    ? translateBinder(&fp, t, thread, tproc) : translateHandle(&fp, t, thread, tproc)
                if r < 0 || !copyToBuffer(tproc, buffer, objOff, fp.bytes, count: true) {
                    returnError = failed; param = r; return failWithBuffer()
                }
            case .fd:
                // The object goes over with `pad_binder` (the fd and the 4 bytes after it) zeroed;
                // the receiver's fd is written there when it reads.
                var fp = RawObject(bytes: Array(obj.bytes[0..<24]))
                let r = translateFD(fp.u32(8), offset: objOff &+ 8, t, proc, inReplyTo: inReplyTo)
                fp.put64(0, 8)
                if r < 0 || !copyToBuffer(tproc, buffer, objOff, fp.bytes, count: true) {
                    returnError = failed; param = r; return failWithBuffer()
                }
            case .fda:
                let numFDs = obj.u64(8), parentIdx = obj.u64(16), parentOffset = obj.u64(24)
                guard let (parent, parentOff) = validatePtr(tproc, buffer, index: parentIdx, offStart: offStart, numValid: numValid),
                      validateFixup(tproc, buffer, offStart: offStart, bufferObjOff: parentOff, fixupOffset: parentOffset,
                                    lastObjOff: lastFixupObjOff, lastMinOff: lastFixupMinOff) else {
                    returnError = failed; param = Errno.EINVAL.negated; return failWithBuffer()
                }
                // With a NULL data pointer the kernel reads this from the target buffer through the
                // sender's allocator (a page of the wrong process); not modelled: the read fails.
                let (userParentSize, userParent) = getObject(proc, sender: (proc.index, userBuffer), buffer, parentOff)
                if userBuffer == 0 || userParentSize != 40 { returnError = failed; param = Errno.EINVAL.negated; return failWithBuffer() }
                var r: Int32 = 0
                if numFDs != 0 {
                    let plen = parent.u64(16)
                    let (fdBufSize, ov) = numFDs.multipliedReportingOverflow(by: 4)
                    if numFDs >= UInt64.max / 4 || ov || fdBufSize > plen || parentOffset > plen - fdBufSize {
                        r = Errno.EINVAL.negated
                    } else {
                        let fdaOffset = parent.u64(8) &- (base(of: tproc) &+ buffer.start) &+ parentOffset
                        let senderBase = userParent.u64(8) &+ parentOffset
                        if fdaOffset % 4 != 0 || senderBase % 4 != 0 {
                            r = Errno.EINVAL.negated
                        } else {
                            // The slots are not copied from the sender (skipped); each fd is read
                            // from the sender's array and translated in turn.
                            addFixup(&fixups, PtrFixup(offset: fdaOffset, data: 0, skip: 4 &* numFDs))
                            for i in 0..<numFDs {
                                guard let fd = copyFromUser(proc.index, senderBase &+ 4 &* i, 4) else { r = Errno.EINVAL.negated; break }
                                r = translateFD(fd.le32(at: 0), offset: fdaOffset &+ 4 &* i, t, proc, inReplyTo: inReplyTo)
                                if r != 0 { break }
                            }
                        }
                    }
                }
                if r == 0 && !copyToBuffer(tproc, buffer, objOff, Array(obj.bytes[0..<32]), count: true) { r = Errno.EINVAL.negated }
                if r != 0 { returnError = failed; param = r; return failWithBuffer() }
                lastFixupObjOff = parentOff
                lastFixupMinOff = parentOffset &+ 4 &* numFDs
            case .ptr:
                let length = obj.u64(16)
                if length > sgEnd &- sgOff {
                    returnError = failed; param = Errno.EINVAL.negated; return failWithBuffer()
                }
                sgCopies.append(SGCopy(offset: sgOff, senderAddr: obj.u64(8), length: length))
                obj.put64(base(of: tproc) &+ buffer.start &+ sgOff, 8)
                sgOff &+= (length &+ 7) & ~7
                var r: Int32 = 0
                if obj.u32(4) & BufferObjectFlags.hasParent != 0 {
                    if let (parent, parentOff) = validatePtr(tproc, buffer, index: obj.u64(24), offStart: offStart, numValid: numValid),
                       validateFixup(tproc, buffer, offStart: offStart, bufferObjOff: parentOff, fixupOffset: obj.u64(32),
                                     lastObjOff: lastFixupObjOff, lastMinOff: lastFixupMinOff) {
                        let plen = parent.u64(16)
                        if plen < 8 || obj.u64(32) > plen - 8 {
                            r = Errno.EINVAL.negated
                        } else {
                            let off = obj.u64(32) &+ (parent.u64(8) &- (base(of: tproc) &+ buffer.start))
                            addFixup(&fixups, PtrFixup(offset: off, data: obj.u64(8), skip: 0))
                        }
                    } else { r = Errno.EINVAL.negated }
                }
                if r < 0 || !copyToBuffer(tproc, buffer, objOff, obj.bytes, count: true) {
                    returnError = failed; param = r; return failWithBuffer()
                }
                lastFixupObjOff = objOff
                lastFixupMinOff = 0
            default:
                returnError = failed; param = Errno.EINVAL.negated; return failWithBuffer()
            }
            bufferOffset &+= 8
        }
        if !copyUserToBuffer(tproc, buffer, userOffset, proc.index, userBuffer &+ userOffset, tr.dataSize &- userOffset) {
            returnError = failed; param = Errno.EFAULT.negated; return failWithBuffer()
        }
        if !doDeferredCopies(tproc, buffer, proc.index, sgCopies, fixups) {
            returnError = failed; param = Errno.EINVAL.negated; return failWithBuffer()
        }
        tcomplete.type = buffer.onewaySpamSuspect ? .transactionOnewaySpamSuspect : .transactionComplete

        if reply {
            let target = targetThread!
            enqueueThreadWork(thread, tcomplete)
            if target.isDead { returnError = dead; return failWithBuffer(dequeueComplete: true) }
            popTransaction(target, inReplyTo!)
            enqueueThreadWork(target, t.work)
            tproc.outstandingTxns += 1
            wakeUp(target)
            freeTransaction(inReplyTo!)
        } else if t.flags & TransactionFlags.oneWay == 0 {
            enqueueDeferredThreadWork(thread, tcomplete)
            t.needReply = true
            t.fromParent = thread.transactionStack
            thread.transactionStack = t
            let r = procTransaction(t, tproc, targetThread)
            if r != 0 {
                popTransaction(thread, t)
                returnError = r
                return failWithBuffer(dequeueComplete: true)
            }
        } else {
            let r = procTransaction(t, tproc, nil)
            if r == BinderReturn.transactionPendingFrozen.rawValue { tcomplete.type = .transactionPending }
            enqueueThreadWork(thread, tcomplete)
            if r != 0 && r != BinderReturn.transactionPendingFrozen.rawValue {
                returnError = r
                return failWithBuffer(dequeueComplete: true)
            }
        }
        // Success: binder_dec_node_tmpref(target_node) after the work was queued.
        if let n = targetNode { putNode(n) }
    }

    /// The tail of `binder_transaction`'s error path: who reads which error.
    func reportError(_ proc: Proc, _ thread: Thread, _ inReplyTo: Transaction?, _ tid: Int, _ code: UInt32, _ param: Int32) {
        if let irt = inReplyTo {
            if let from = irt.from, from.extendedError.command == BinderReturn.ok.rawValue {
                from.extendedError = ExtendedError(id: UInt32(truncatingIfNeeded: tid), command: code, param: param)
            }
            thread.returnError.errorCmd = BinderReturn.transactionComplete.rawValue
            enqueueThreadWork(thread, thread.returnError)
            sendFailedReply(irt, code)
        } else {
            thread.extendedError = ExtendedError(id: UInt32(truncatingIfNeeded: tid), command: code, param: param)
            thread.returnError.errorCmd = code
            enqueueThreadWork(thread, thread.returnError)
        }
    }

    /// Mirrors `binder_do_deferred_txn_copies`. Returns false on failure.
    func doDeferredCopies(_ tproc: Proc, _ b: Buffer, _ sender: ProcessIndex, _ sgc: [SGCopy], _ fixupsIn: [PtrFixup]) -> Bool {
        var ok = true
        var fixups = fixupsIn[...]
        for c in sgc {
            var copied: UInt64 = 0
            while copied < c.length {
                let left = c.length - copied
                let offset = c.offset &+ copied
                let copySize = fixups.first.map { min(left, $0.offset &- offset) } ?? left
                if ok && copySize != 0 {
                    ok = copyUserToBuffer(tproc, b, offset, sender, c.senderAddr &+ copied, copySize)
                }
                copied &+= copySize
                if copySize != left {
                    guard let pf = fixups.first else { break }
                    if pf.skip != 0 {
                        copied &+= pf.skip
                    } else {
                        var d: [UInt8] = []; d.appendLE64(pf.data)
                        if ok { ok = copyToBuffer(tproc, b, pf.offset, d) }
                        copied &+= 8
                    }
                    fixups = fixups.dropFirst()
                }
            }
        }
        return ok
    }
}
