import Testing
import BinderUAPI
@testable import BinderDriver

let S = UserMemoryLayout.scratchBase
let bwrAddr = S
let writeAddr = S + 0x100
let readAddr = S + 0x1000
let dataAddr = S + 0x3000
let offsAddr = S + 0x5000

/// A tiny driver-agnostic client over the BinderBackend surface.
struct Client {
    let d: BinderDriver
    func ioctl(_ p: Int, _ t: Int, _ cmd: BinderIoctl, _ arg: UInt64) -> Int32 { d.ioctl(p, thread: t, command: cmd.rawValue, argument: arg) }
    /// Runs BINDER_WRITE_READ; returns (ret, bwr after, BR words read).
    @discardableResult
    func wr(_ p: Int, _ t: Int, write: [UInt8] = [], readSize: UInt64 = 0) -> (Int32, BinderWriteRead, [UInt8]) {
        d.writeUser(p, address: writeAddr, bytes: write)
        let bwr = BinderWriteRead(writeSize: UInt64(write.count), writeBuffer: writeAddr, readSize: readSize, readBuffer: readAddr)
        d.writeUser(p, address: bwrAddr, bytes: bwr.bytes)
        let r = d.ioctl(p, thread: t, command: BinderIoctl.writeRead.rawValue, argument: bwrAddr)
        let out = BinderWriteRead(bytes: d.readUser(p, address: bwrAddr, count: 48))
        let rd = d.readUser(p, address: readAddr, count: Int(out.readConsumed))
        return (r, out, rd)
    }
    func read(_ p: Int, _ t: Int) -> (Int32, [UInt32]) {
        let (r, _, b) = wr(p, t, readSize: 256)
        return (r, decode(b))
    }
}

/// Decodes BR codes (skipping payloads).
func decode(_ b: [UInt8]) -> [UInt32] {
    var o = 0; var out: [UInt32] = []
    while o + 4 <= b.count {
        let c = b.le32(at: o); out.append(c); o += 4
        o += BinderReturn(rawValue: c).wirePayloadSize
    }
    return out
}
func cmd(_ c: BinderCommand, _ payload: [UInt8] = []) -> [UInt8] { var b: [UInt8] = []; b.appendLE32(c.rawValue); return b + payload }
func u32(_ v: UInt32) -> [UInt8] { var b: [UInt8] = []; b.appendLE32(v); return b }
func u64(_ v: UInt64) -> [UInt8] { var b: [UInt8] = []; b.appendLE64(v); return b }
func txn(handle: UInt32, flags: UInt32 = 0, dataSize: UInt64 = 0, offsetsSize: UInt64 = 0) -> [UInt8] {
    TransactionData(target: UInt64(handle), flags: flags, dataSize: dataSize, offsetsSize: offsetsSize, buffer: dataAddr, offsets: offsAddr).bytes
}
let NOOP = BinderReturn.noop.rawValue, TC = BinderReturn.transactionComplete.rawValue
let BRT = BinderReturn.transaction.rawValue, BRR = BinderReturn.reply.rawValue

func setup(_ n: Int, mapSize: UInt64 = 4096) -> Client {
    let d = BinderDriver(processCount: n)
    for p in 0..<n {
        _ = d.open(p, blocking: false)
        _ = d.mmap(p, length: mapSize, prot: MmapRules.protRead)
    }
    return Client(d: d)
}

@Test func versionAndErrors() {
    let c = setup(1)
    #expect(c.ioctl(0, 0, .version, S) == 0)
    #expect(c.d.readUser(0, address: S, count: 4) == u32(8))
    #expect(c.ioctl(0, 0, .version, UserMemoryLayout.unmappedAddress) == -Errno.EINVAL.rawValue)
    #expect(c.ioctl(0, 0, .setMaxThreads, UserMemoryLayout.unmappedAddress) == -Errno.EINVAL.rawValue)
    #expect(c.ioctl(0, 0, .writeRead, UserMemoryLayout.unmappedAddress) == -Errno.EFAULT.rawValue)
    #expect(c.ioctl(0, 0, .setIdleTimeout, S) == -Errno.EINVAL.rawValue)
    #expect(c.d.checkInvariants() == nil)
}

@Test func mmapRules() {
    let d = BinderDriver(processCount: 1)
    _ = d.open(0, blocking: false)
    #expect(d.mmap(0, length: 4096, prot: 3) == .failed(.EPERM))
    #expect(d.mmap(0, length: 8192, prot: 1) == .mapped(0x7000_0000_0000))
    #expect(d.mmap(0, length: 8192, prot: 1) == .failed(.EBUSY))
    _ = d.munmap(0)
    #expect(d.mmap(0, length: 8192, prot: 1) == .failed(.EBUSY))
    #expect(d.readMapping(0, offset: 0, count: 4) == nil)
}

@Test func firstReadNoopThenEagain() {
    let c = setup(1)
    let (r1, w1) = c.read(0, 0)
    #expect(r1 == 0 && w1 == [NOOP])
    let (r2, _, _) = c.wr(0, 0, readSize: 256)
    #expect(r2 == -Errno.EAGAIN.rawValue)
    let out = BinderWriteRead(bytes: c.d.readUser(0, address: bwrAddr, count: 48))
    #expect(out.readConsumed == 0)
}

/// §10.7 / §10.8 worked examples.
@Test func workedExample() {
    let c = setup(3)
    let M = 0, Sv = 1, C = 2
    for p in 0..<3 { _ = c.ioctl(p, 0, .version, S) }
    #expect(c.ioctl(M, 0, .setContextMgr, 0) == 0)
    c.wr(M, 0, write: cmd(.enterLooper))
    // S: oneway to handle 0 with a BINDER object
    let obj = FlatBinderObject(type: .binder, binderOrHandle: 0x1000, cookie: 0x2000).bytes
    c.d.writeUser(Sv, address: dataAddr, bytes: obj)
    c.d.writeUser(Sv, address: offsAddr, bytes: u64(0))
    let (r, _, b) = c.wr(Sv, 0, write: cmd(.transaction, txn(handle: 0, flags: 1, dataSize: 24, offsetsSize: 8)), readSize: 256)
    #expect(r == 0)
    #expect(decode(b) == [NOOP, BinderReturn.increfs.rawValue, BinderReturn.acquire.rawValue, TC])
    c.wr(Sv, 0, write: cmd(.increfsDone, u64(0x1000) + u64(0x2000)) + cmd(.acquireDone, u64(0x1000) + u64(0x2000)))
    let (_, _, mb) = c.wr(M, 0, readSize: 256)
    #expect(decode(mb) == [NOOP, BRT])
    let td = TransactionData(bytes: mb, at: 8)
    #expect(td.flags == 1 && td.senderPID == 0 && td.buffer == 0x7000_0000_0000)
    let recv = c.d.readMapping(M, offset: 0, count: 24)!
    #expect(FlatBinderObject(bytes: recv).type == .handle && FlatBinderObject(bytes: recv).handle == 1)
    c.wr(M, 0, write: cmd(.acquire, u32(1)) + cmd(.freeBuffer, u64(td.buffer)))
    #expect(c.d.checkInvariants() == nil)
    // C: sync call to handle 0
    let (rc, _, _) = c.wr(C, 0, write: cmd(.transaction, txn(handle: 0)), readSize: 256)
    #expect(rc == -Errno.EAGAIN.rawValue)
    let (_, _, mb2) = c.wr(M, 0, readSize: 256)
    #expect(decode(mb2) == [NOOP, BRT])
    #expect(TransactionData(bytes: mb2, at: 8).senderPID == 102)
    // M replies with HANDLE 1
    let h = FlatBinderObject(type: .handle, binderOrHandle: 1).bytes
    c.d.writeUser(M, address: dataAddr, bytes: h)
    c.d.writeUser(M, address: offsAddr, bytes: u64(0))
    let (_, _, mr) = c.wr(M, 0, write: cmd(.reply, txn(handle: 0, dataSize: 24, offsetsSize: 8)), readSize: 256)
    #expect(decode(mr) == [NOOP, TC])
    let (_, _, cr) = c.wr(C, 0, readSize: 256)
    #expect(decode(cr) == [NOOP, TC, BRR])
    let rtd = TransactionData(bytes: cr, at: 12)
    let off = rtd.buffer - (0x7000_0000_0000 + (UInt64(C) << 32))
    let got = FlatBinderObject(bytes: c.d.readMapping(C, offset: off, count: 24)!)
    #expect(got.type == .handle && got.handle == 1)
    // C calls handle 1 → S
    c.wr(C, 0, write: cmd(.acquire, u32(1)) + cmd(.freeBuffer, u64(rtd.buffer)))
    c.wr(C, 0, write: cmd(.transaction, txn(handle: 1)))
    let (_, _, sb) = c.wr(Sv, 0, readSize: 256)
    #expect(decode(sb) == [NOOP, BRT])
    let std = TransactionData(bytes: sb, at: 8)
    #expect(std.target == 0x1000 && std.cookie == 0x2000 && std.senderPID == 102)
    c.wr(Sv, 0, write: cmd(.freeBuffer, u64(std.buffer)) + cmd(.reply, txn(handle: 0)))
    #expect(c.read(C, 0).1 == [NOOP, TC, BRR])
    #expect(c.d.checkInvariants() == nil)
    // release: BC_RELEASE 1 deletes the ref, following DECREFS is ignored
    c.wr(C, 0, write: cmd(.release, u32(1)) + cmd(.decrefs, u32(1)))
    #expect(c.d.checkInvariants() == nil)
}

@Test func deferredCompleteAndWriteLoopStops() {
    let c = setup(2)
    _ = c.ioctl(0, 0, .version, S); _ = c.ioctl(1, 0, .version, S)
    #expect(c.ioctl(0, 0, .setContextMgr, 0) == 0)
    // invalid handle → BR_FAILED_REPLY; the rest of the write buffer is not processed
    let w = cmd(.transaction, txn(handle: 5)) + cmd(.enterLooper)
    let (r, out, b) = c.wr(1, 0, write: w, readSize: 256)
    #expect(r == 0 && out.writeConsumed == 68)
    #expect(decode(b) == [NOOP, BinderReturn.failedReply.rawValue])
    // sync call: completion deferred
    let (r2, _, _) = c.wr(1, 0, write: cmd(.transaction, txn(handle: 0)), readSize: 256)
    #expect(r2 == -Errno.EAGAIN.rawValue)
    // pending error blocks writes
    let (_, o3, _) = c.wr(1, 1, write: cmd(.transaction, txn(handle: 9)))
    #expect(o3.writeConsumed == 68)
    let (_, o4, _) = c.wr(1, 1, write: cmd(.enterLooper))
    #expect(o4.writeConsumed == 0)
}

/// §8.4 tie-break: X1..X4 of 64 bytes, free X1 then X3 → a 64-byte request gets X3, 32-byte gets X1.
@Test func allocatorTieBreak() {
    let a = Allocator()
    a.mmap(size: 4096)
    var xs: [Int32] = []
    for _ in 0..<4 { xs.append(Int32(a.newBuf(data: 64, offsets: 0, extra: 0, isAsync: false, senderPid: 1))) }
    #expect(xs.map { a.blocks[Int($0)].start } == [0, 64, 128, 192])
    a.freeBuf(xs[0]); a.freeBuf(xs[2])
    #expect(a.check() == nil)
    let b64 = a.newBuf(data: 64, offsets: 0, extra: 0, isAsync: false, senderPid: 1)
    #expect(a.blocks[b64].start == 128)
    let b32 = a.newBuf(data: 32, offsets: 0, extra: 0, isAsync: false, senderPid: 1)
    #expect(a.blocks[b32].start == 0)
    #expect(a.check() == nil)
}

@Test func deathNotificationOnRelease() {
    let c = setup(2)
    _ = c.ioctl(0, 0, .version, S); _ = c.ioctl(1, 0, .version, S)
    #expect(c.ioctl(0, 0, .setContextMgr, 0) == 0)
    c.wr(1, 0, write: cmd(.acquire, u32(0)) + cmd(.requestDeathNotification, u32(0) + u64(0xabc)))
    _ = c.d.munmap(0); _ = c.d.close(0)
    let (r, _, b) = c.wr(1, 0, readSize: 256)
    #expect(r == 0 && decode(b) == [NOOP, BinderReturn.deadBinder.rawValue])
    #expect(b.le64(at: 8) == 0xabc)
    c.wr(1, 0, write: cmd(.deadBinderDone, u64(0xabc)) + cmd(.clearDeathNotification, u32(0) + u64(0xabc)))
    #expect(c.read(1, 0).1 == [NOOP, BinderReturn.clearDeathNotificationDone.rawValue])
    // transactions to the dead manager: BR_DEAD_REPLY
    c.wr(1, 0, write: cmd(.transaction, txn(handle: 0)))
    #expect(c.read(1, 0).1 == [NOOP, BinderReturn.deadReply.rawValue])
    #expect(c.d.checkInvariants() == nil)
    // reopen gives a fresh proc
    #expect(c.d.open(0, blocking: false) == 0)
    #expect(c.d.mmap(0, length: 4096, prot: 1) == .mapped(0x7000_0000_0000))
}

@Test func badPointerFaults() {
    let c = setup(2)
    _ = c.ioctl(0, 0, .setContextMgr, 0)
    c.d.writeUser(1, address: writeAddr, bytes: cmd(.transaction))
    let bwr = BinderWriteRead(writeSize: 68, writeBuffer: writeAddr)
    c.d.writeUser(1, address: bwrAddr, bytes: bwr.bytes)
    // payload in scratch but the data pointer is unmapped → BR_FAILED_REPLY (-EFAULT ext error)
    let bad = TransactionData(target: 0, dataSize: 16, buffer: UserMemoryLayout.unmappedAddress).bytes
    c.wr(1, 0, write: cmd(.transaction, bad))
    #expect(c.read(1, 0).1 == [NOOP, BinderReturn.failedReply.rawValue])
    _ = c.ioctl(1, 0, .getExtendedError, S + 0x800)
    let ee = c.d.readUser(1, address: S + 0x800, count: 12)
    #expect(ee.le32(at: 4) == BinderReturn.failedReply.rawValue && Int32(bitPattern: ee.le32(at: 8)) == -Errno.EFAULT.rawValue)
    // write buffer pointer unmapped → -EFAULT
    let b2 = BinderWriteRead(writeSize: 4, writeBuffer: UserMemoryLayout.unmappedAddress)
    c.d.writeUser(1, address: bwrAddr, bytes: b2.bytes)
    #expect(c.ioctl(1, 0, .writeRead, bwrAddr) == -Errno.EFAULT.rawValue)
    #expect(c.d.checkInvariants() == nil)
}

/// Deterministic pseudo-random byte streams through the ioctl surface never trap.
@Test func fuzzNeverTraps() {
    var seed: UInt64 = 0x9E3779B97F4A7C15
    func rnd() -> UInt64 { seed ^= seed << 13; seed ^= seed >> 7; seed ^= seed << 17; return seed }
    let cmds = BinderCommand.all.map { $0.1.rawValue }
    let ioctls = BinderIoctl.all.map { $0.1.rawValue }
    for round in 0..<2000 {
        let c = setup(3, mapSize: 8192)
        if round % 2 == 0 { _ = c.ioctl(0, 0, .setContextMgr, 0) }
        for _ in 0..<24 {
            let p = Int(rnd() % 3), t = Int(rnd() % 3)
            if c.d.readMapping(p, offset: 0, count: 0) == nil && rnd() % 3 == 0 {
                // process may be released; reopen
                if c.d.open(p, blocking: false) == 0 { _ = c.d.mmap(p, length: 8192, prot: 1) }
                continue
            }
            var w: [UInt8] = []
            for _ in 0..<Int(rnd() % 4) {
                let code = rnd() % 8 == 0 ? UInt32(truncatingIfNeeded: rnd()) : cmds[Int(rnd() % UInt64(cmds.count))]
                w.appendLE32(code)
                if code == BinderCommand.transaction.rawValue || code == BinderCommand.reply.rawValue || code == BinderCommand.transactionSG.rawValue {
                    let ds = rnd() % 80, os = (rnd() % 4) * 8 + (rnd() % 5 == 0 ? 3 : 0)
                    var td = TransactionData(target: rnd() % 4, flags: UInt32(rnd() % 0x80), dataSize: ds, offsetsSize: os, buffer: dataAddr, offsets: offsAddr).bytes
                    if rnd() % 7 == 0 { td.putLE64(rnd(), at: 48) }
                    w += td
                    if code == BinderCommand.transactionSG.rawValue { w += u64((rnd() % 5) * 8) }
                    // objects
                    var data = [UInt8](repeating: 0, count: 80)
                    let types: [BinderObjectType] = [.binder, .weakBinder, .handle, .weakHandle, .fd, .fda, .ptr]
                    var offs: [UInt8] = []
                    var o: UInt64 = 0
                    for _ in 0..<4 {
                        let ty = types[Int(rnd() % 7)]
                        if Int(o) + 40 > 80 { break }
                        data.putLE32(ty.rawValue, at: Int(o)); data.putLE32(UInt32(rnd() % 3) << 8 | UInt32(rnd() % 2), at: Int(o) + 4)
                        data.putLE64(rnd() % 4 == 0 ? dataAddr : rnd() % 3, at: Int(o) + 8)
                        data.putLE64(rnd() % 3 * 8, at: Int(o) + 16); data.putLE64(rnd() % 3, at: Int(o) + 24)
                        offs += u64(rnd() % 9 == 0 ? rnd() % 90 : o)
                        o += UInt64(ty.objectSize!)
                    }
                    c.d.writeUser(p, address: dataAddr, bytes: data)
                    c.d.writeUser(p, address: offsAddr, bytes: offs + [UInt8](repeating: 0, count: 8))
                } else {
                    for _ in 0..<Int(rnd() % 5) { w.appendLE32(UInt32(rnd() % 4)) }
                }
            }
            switch rnd() % 10 {
            case 0: _ = c.d.ioctl(p, thread: t, command: ioctls[Int(rnd() % UInt64(ioctls.count))], argument: rnd() % 2 == 0 ? S + 0x800 : rnd())
            case 1: _ = c.d.munmap(p)
            case 2: _ = c.d.close(p)
            default:
                let (_, _, b) = c.wr(p, t, write: w, readSize: rnd() % 4 == 0 ? rnd() % 200 : 256)
                // free any delivered buffers sometimes
                if rnd() % 2 == 0 {
                    var i = 0
                    while i + 4 <= b.count {
                        let code = b.le32(at: i)
                        if code == BRT || code == BRR { c.wr(p, t, write: cmd(.freeBuffer, u64(b.le64(at: i + 4 + 48)))) }
                        i += 4 + BinderReturn(rawValue: code).wirePayloadSize
                    }
                }
            }
            if let e = c.d.checkInvariants() { Issue.record("round \(round): \(e)"); return }
        }
    }
}

/// `binder_ioctl_get_extended_error` resets the thread's extended error before copy_to_user, so a
/// faulting call still consumes it (kernel-verified: Corpus/regressions/aa1a9dd6d68bad7e.bscn).
@Test func extendedErrorResetEvenOnFault() {
    let c = setup(1)
    c.wr(0, 0, write: cmd(.transaction, txn(handle: 0)))   // no context manager → BR_DEAD_REPLY
    #expect(c.ioctl(0, 0, .getExtendedError, 0) == -Errno.EFAULT.rawValue)
    #expect(c.ioctl(0, 0, .getExtendedError, S + 0x800) == 0)
    let ee = c.d.readUser(0, address: S + 0x800, count: 12)
    #expect(ee.le32(at: 0) == 0 && ee.le32(at: 4) == BinderReturn.ok.rawValue && ee.le32(at: 8) == 0)
}

/// A released driver frees its whole object graph (procs, threads, nodes, refs, transactions,
/// work items), including objects that outlived their proc: dead nodes still referenced, a
/// transaction whose sender died, released procs and threads.
@Test func releasedDriverFreesObjectGraph() {
    final class Weak { weak var o: AnyObject?; init(_ o: AnyObject) { self.o = o } }
    var tracked: [Weak] = []
    func track(_ d: BinderDriver) {
        for p in d.allProcs {
            tracked.append(Weak(p)); tracked.append(Weak(p.alloc))
            for r in p.refsByDesc.values {
                tracked.append(Weak(r))
                if let x = r.death { tracked.append(Weak(x)) }
            }
            for (list) in [p.todo, p.deliveredDeath, p.deliveredFreeze] {
                var w = list.head
                while let cur = w { tracked.append(Weak(cur)); w = cur.next }
            }
        }
        for t in d.allThreads {
            tracked.append(Weak(t))
            var w = t.todo.head
            while let cur = w { tracked.append(Weak(cur)); w = cur.next }
        }
        for n in d.allNodes { tracked.append(Weak(n)) }
        for t in d.allTransactions { tracked.append(Weak(t)) }
    }
    do {
        let c = setup(3)
        for p in 0..<3 { _ = c.ioctl(p, 0, .version, S) }
        #expect(c.ioctl(0, 0, .setContextMgr, 0) == 0)
        c.wr(0, 0, write: cmd(.enterLooper))
        // proc 1 sends the manager a node, then proc 2 and proc 1 hold refs with death notices
        let obj = FlatBinderObject(type: .binder, binderOrHandle: 0x1000, cookie: 0x2000).bytes
        c.d.writeUser(1, address: dataAddr, bytes: obj)
        c.d.writeUser(1, address: offsAddr, bytes: u64(0))
        c.wr(1, 0, write: cmd(.transaction, txn(handle: 0, flags: 1, dataSize: 24, offsetsSize: 8)), readSize: 256)
        c.wr(1, 0, write: cmd(.increfsDone, u64(0x1000) + u64(0x2000)) + cmd(.acquireDone, u64(0x1000) + u64(0x2000)))
        c.wr(2, 0, write: cmd(.acquire, u32(0)) + cmd(.requestDeathNotification, u32(0) + u64(0xabc)))
        // pending sync calls (the manager received one and never replies; a second stays queued)
        c.wr(2, 0, write: cmd(.transaction, txn(handle: 0)), readSize: 256)
        c.wr(0, 0, readSize: 256)
        c.wr(2, 1, write: cmd(.transaction, txn(handle: 0)))
        track(c.d)
        // the sender thread exits and the manager dies: dead node kept by proc 2's ref
        _ = c.ioctl(2, 0, .threadExit, 0)
        _ = c.d.munmap(0); _ = c.d.close(0)
        track(c.d)
        #expect(c.d.checkInvariants() == nil)
    }
    #expect(!tracked.isEmpty)
    #expect(tracked.allSatisfy { $0.o == nil })
}
