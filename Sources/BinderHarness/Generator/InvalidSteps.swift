import BinderModel
import BinderUAPI

/// Deliberate error paths. Every one stays deterministic on a real kernel: bad pointers are only
/// `PointerSpec` values, no FD object ever reaches a target that accepts fds (nothing in a
/// generated scenario sets FLAT_BINDER_FLAG_ACCEPTS_FDS or TF_ACCEPT_FDS, so FD objects get
/// -EPERM), no TXN_SECURITY_CTX, and valid-looking reads use read_size >= 80.
extension GenerationSession {
    /// Emits one error-path step; false when none applied.
    func invalidStep() -> Bool {
        guard let p = rng.pickOptional(liveProcesses) else { return false }
        let t = randomThread(p)
        let v = views[p]
        let someHandle: UInt32 = rng.pickOptional(v.refs.filter { $0.strong > 0 })?.handle
            ?? (model.contextManagerExists && !v.isContextManager ? 0 : 1)
        func tx(_ payload: Payload = Payload(trailing: 16), handle: UInt32? = nil) -> Transaction {
            Transaction(handle: handle ?? someHandle, code: 1, flags: rng.percent(30) ? TransactionFlags.oneWay : 0, payload: payload)
        }
        func send(_ commands: [Command], read: Bool = true) { emit(p, t, writeRead(commands, read: read && rng.percent(80))) }
        let obj = PayloadObject(gap: 0, binderObject(p))

        switch rng.below(26) {
        case 0: // transaction to a handle nobody holds
            send([.transaction(tx(handle: rng.pick([7, 42, 0x7777, 0xFFFF_FFFF])))])
        case 1: // weak-only ref as a transaction target, or a dead node's ref
            guard let r = v.refs.first(where: { $0.strong == 0 || $0.nodeIsDead }) else { return false }
            send([.transaction(tx(handle: r.handle))])
        case 2: // reply with no incoming transaction
            guard let tt = (0..<procs[p].threadCount).first(where: { !(threadView(p, $0)?.mustReply ?? false) }) else { return false }
            emit(p, tt, writeRead([.reply(Transaction(payload: Payload(trailing: 8)))], read: true))
        case 3: // unknown BC code
            var raw: [UInt8] = []
            raw.appendLE32(rng.pick([0x0000_0000, 0x4004_6399, 0x6300_0000 | rng.u32(22...255), UInt32(truncatingIfNeeded: rng.next())]))
            send([.raw(raw)] + (rng.percent(50) ? [.enterLooper] : []))
        case 4: // BC_ATTEMPT_ACQUIRE / BC_ACQUIRE_RESULT
            var raw: [UInt8] = []
            if rng.percent(50) { raw.appendLE32(BinderCommand.attemptAcquire.rawValue); raw.appendLE64(0) }
            else { raw.appendLE32(BinderCommand.acquireResult.rawValue); raw.appendLE32(0) }
            send([.raw(raw)])
        case 5: // bad write / read / struct pointers
            var wr = WriteRead(commands: [.transaction(tx())], readSize: readSize())
            switch rng.below(3) {
            case 0: wr.writePointer = rng.percent(50) ? .null : .unmapped
            case 1: wr.readPointer = rng.percent(50) ? .null : .unmapped
            default: wr.structPointer = rng.percent(50) ? .null : .unmapped
            }
            if rng.percent(40) { wr.commands = [.enterLooper] }
            emit(p, t, .writeRead(wr))
        case 6: // bad data / offsets pointers
            var x = tx(Payload(objects: rng.percent(50) ? [obj] : [], trailing: 16))
            if rng.percent(50) { x.dataPointer = rng.percent(50) ? .null : .unmapped }
            else { x.offsetsPointer = rng.percent(50) ? .null : .unmapped }
            if x.payload.objects.isEmpty, x.offsetsPointer != .valid { x.payload.objects = [obj] }
            send([.transaction(x)])
        case 7: // misaligned / out-of-order / overlapping / out-of-range offsets
            var pl = Payload(objects: [obj, PayloadObject(gap: 8, binderObject(p))], trailing: 8)
            pl.offsetsOverride = rng.pick([[2], [24, 0], [0, 8], [0, 0], [4096], [32, 1000], [UInt64.max]])
            send([.transaction(tx(pl))])
        case 8: // offsets_size not a multiple of 8, data_size adjustments
            var pl = Payload(objects: [obj], trailing: 16)
            if rng.percent(50) { pl.offsetsSizeAdjust = rng.pick([-3, 1, 4, 8, -8]) }
            else { pl.dataSizeAdjust = rng.pick([-30, -4, -1, 1, 8, 64, -100_000]) }
            send([.transaction(tx(pl))])
        case 9: // bogus / double free
            let freeableNow = freeable(p)
            if let off = rng.pickOptional(freeableNow), rng.percent(60) {
                send([.freeBuffer(.mappingOffset(off)), .freeBuffer(.mappingOffset(off))], read: false)
            } else {
                send([.freeBuffer(rng.pick([.literal(0x1234), .mappingOffset(8), .mappingOffset(0x7_0000),
                                            .received(index: 999), .literal(0)]))], read: false)
            }
        case 10: // mmap with PROT_WRITE, or a second mmap
            emit(p, t, .mmap(pages: rng.u32(1...4), prot: rng.percent(50) ? MmapRules.protRead | MmapRules.protWrite : MmapRules.protRead))
        case 11: // write_size truncating the last command, or write_consumed past commands
            var wr = WriteRead(commands: [.increfs(someHandle), .transaction(tx())], readSize: rng.percent(60) ? readSize() : 0)
            if rng.percent(70) { wr.writeSizeAdjust = rng.pick([-1, -4, -8, -30, -64, 4]) }
            else { wr.writeConsumed = rng.pick([4, 8, 3, 200]) }
            emit(p, t, .writeRead(wr))
        case 12: // unknown ioctl numbers, bad pointers on simple ioctls
            let cmd: UInt32 = rng.pick([BinderIoctl.setIdleTimeout.rawValue, BinderIoctl.setIdlePriority.rawValue,
                                        IoctlEncoding.iowr("b", 2, 8), IoctlEncoding.iowr("b", 99, 4), 0x5401, 0,
                                        IoctlEncoding.iow("b", 5, 8)])
            var arg = [UInt8](repeating: 0, count: 8)
            arg[0] = UInt8(truncatingIfNeeded: rng.next())
            emit(p, t, .rawIoctl(command: cmd, argument: arg, pointer: .valid))
        case 13:
            let cmd: UInt32 = rng.pick([BinderIoctl.version.rawValue, BinderIoctl.setMaxThreads.rawValue,
                                        BinderIoctl.getExtendedError.rawValue, BinderIoctl.getNodeDebugInfo.rawValue,
                                        BinderIoctl.threadExit.rawValue, BinderIoctl.freeze.rawValue])
            emit(p, t, .rawIoctl(command: cmd, argument: [], pointer: rng.percent(50) ? .null : .unmapped))
        case 14: // FD object (the target never accepts fds: -EPERM), FDA with a bad parent
            let kind: ObjectKind = rng.percent(60) ? .fd(.literal(rng.u32(0...5))) : .fda(numFds: rng.u32(0...2), parent: 5, parentOffset: 0)
            send([.transaction(tx(Payload(objects: [PayloadObject(gap: 0, kind)], trailing: 8)))])
        case 15: // PTR without SG room, PTR with a bad parent, SG size not 8-aligned
            var x = tx(Payload(objects: [PayloadObject(gap: 0, .ptr(length: 16, flags: 0, parent: 0, parentOffset: 0))]))
            switch rng.below(3) {
            case 0: x.buffersSize = nil
            case 1: x.buffersSize = 12
            default:
                x.payload.objects.append(PayloadObject(gap: 0, .ptr(length: 8, flags: BufferObjectFlags.hasParent, parent: 3, parentOffset: 0)))
                x.buffersSize = 24
            }
            send([.transaction(x)])
        case 16: // binder object with a mismatching cookie for an existing node
            guard let n = rng.pickOptional(v.nodes) else { return false }
            send([.transaction(tx(Payload(objects: [PayloadObject(gap: 0, .binder(ptr: n.ptr, cookie: n.cookie &+ 5, flags: 0, weak: false))])))])
        case 17: // handle objects naming unknown handles
            send([.transaction(tx(Payload(objects: [PayloadObject(gap: 0, .handle(0x4242, flags: 0, weak: rng.percent(50)))])))])
        case 18: // ref-count commands on invalid handles, DONE for unpending nodes
            let h: UInt32 = rng.pick([77, 0xFFFF, 1000])
            let n = rng.pickOptional(v.nodes)
            send([rng.pick([.increfs(h), .acquire(h), .release(h), .decrefs(h),
                            .increfsDone(ptr: n?.ptr ?? 0x99, cookie: n?.cookie ?? 0),
                            .acquireDone(ptr: n?.ptr ?? 0x99, cookie: n?.cookie ?? 0)])], read: rng.percent(30))
        case 19: // death notifications on unknown handles, clear without a request, done for unknown cookie
            let h: UInt32 = rng.pick([55, someHandle])
            send([rng.pick([.requestDeathNotification(handle: 55, cookie: 1), .clearDeathNotification(handle: h, cookie: 0xBAD),
                            .deadBinderDone(cookie: 0xBAD)])], read: rng.percent(30))
        case 20: // freeze notification errors (HARD -EINVAL)
            send([rng.pick([.requestFreezeNotification(handle: 0x55, cookie: 1), .clearFreezeNotification(handle: someHandle, cookie: 0xBAD),
                            .freezeNotificationDone(cookie: 0xBAD)])], read: false)
        case 21: // a second sync call from a thread waiting for its reply (EPROTO)
            guard let w = v.threads.first(where: { $0.awaitingReply }) else { return false }
            var x = tx(); x.flags = 0
            emit(p, w.thread, writeRead([.transaction(x)], read: true))
        case 22: // context manager again
            emit(p, t, rng.percent(50) ? .setContextManager : .setContextManagerExt(ptr: 0x77, cookie: 0x78, flags: 0))
        case 23: // freeze of a dead / unknown process, frozen info of one
            let dead = (0..<processCount).filter { !procs[$0].open && !procs[$0].mapped }
            let q = rng.pickOptional(dead) ?? processCount + 1
            emit(p, t, rng.percent(50) ? .freeze(target: q, enable: 1) : .frozenInfo(target: q))
        case 24: // a transaction to itself through its own node (a ref to its own node does not exist) or handle 0 from the manager
            guard v.isContextManager else { return false }
            send([.transaction(tx(handle: 0))])
        default: // multiple commands, the middle one failing
            send([.increfs(someHandle), .raw([0xFF, 0xFF, 0xFF, 0xFF]), .acquire(someHandle)])
        }
        return true
    }
}
