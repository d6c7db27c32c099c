import BinderUAPI

/// The binary scenario format: versioned and total.
///
/// A file may start with the magic `BSCN` and a version varint; without them the bytes are
/// decoded as the current version (fuzzer inputs). Any byte string decodes to some scenario:
/// missing bytes read as zero, enum tags are taken modulo the number of cases, counts are capped.
/// Scenarios whose values are in range (as the generator makes them) round-trip exactly.
///
/// Version history:
/// - 1: initial format (17 step tags).
/// - 2: blocking steps: tags 17 `openBlocking`, 18 `poll`, 19 `signal`, 20 `flushDuplicate`,
///   21 `exit`, 22 `sleep` (step tags are taken modulo 23); `freeze` carries `timeout_ms`. A
///   version-1 file decodes as before.
/// - 3: files: tags 23 `newFile`, 24 `closeFd`, 25 `checkFd`, 26 `fdLimit` (step tags modulo
///   27); an FD object names its fd as an `FdRef` (kind byte, then a varint), and an FDA object
///   ends with a count and that many `FdRef`s. Earlier files decode FD objects as literal fds.
/// Decoders for every published version stay in this file.
public enum WireFormat {
    public static let currentVersion = 3
    public static let magic: [UInt8] = Array("BSCN".utf8)

    /// The bytes of a scenario; fails when it exceeds `ScenarioLimits.current`, naming the limit
    /// (such a scenario would not decode back the same).
    public static func encode(_ scenario: Scenario, header: Bool = true) throws(ScenarioLimits.Violation) -> [UInt8] {
        try ScenarioLimits.current.check(scenario)
        return bytes(of: scenario, header: header)
    }

    /// The bytes of a scenario, unchecked: for scenarios that came from decoding bytes, which
    /// can exceed the scratch regions (`encode` would refuse them) and must still travel as they
    /// are (to the kernel VM, for instance).
    public static func bytes(of scenario: Scenario, header: Bool = true) -> [UInt8] {
        var w = ByteWriter()
        if header { w.bytes += magic; w.varint(UInt64(currentVersion)) }
        w.byte(UInt8(max(0, scenario.processCount - 1)))
        for step in scenario.steps { w.step(step) }
        return w.bytes
    }

    public static func decode(_ bytes: [UInt8]) -> Scenario {
        var r = ByteReader(bytes)
        var version = currentVersion
        if bytes.count >= 4, Array(bytes[0..<4]) == magic {
            r.position = 4
            version = Int(min(r.varint(), 1 << 20))
        }
        // Unknown (future) versions fall back to the newest known decoder.
        r.version = min(version, currentVersion)
        let processCount = 1 + Int(r.byte()) % Scenario.maxProcesses
        var steps: [Step] = []
        while !r.atEnd, steps.count < 4096 {
            steps.append(r.step(processCount: processCount))
        }
        return Scenario(processCount: processCount, steps: steps)
    }
}

/// Little-endian varint writer for the wire format.
struct ByteWriter {
    var bytes: [UInt8] = []
    mutating func byte(_ b: UInt8) { bytes.append(b) }
    mutating func varint(_ v: UInt64) {
        var v = v
        while v >= 0x80 { bytes.append(UInt8(v & 0x7F) | 0x80); v >>= 7 }
        bytes.append(UInt8(v))
    }
    mutating func zigzag(_ v: Int32) { varint(UInt64(UInt32(bitPattern: (v << 1) ^ (v >> 31)))) }
    mutating func blob(_ b: [UInt8]) { varint(UInt64(b.count)); bytes += b }
    mutating func pointer(_ p: PointerSpec) { byte(p.rawValue) }

    mutating func step(_ s: Step) {
        let tag: UInt8
        switch s.action {
        case .open: tag = 0
        case .mmap: tag = 1
        case .munmap: tag = 2
        case .close: tag = 3
        case .version: tag = 4
        case .setMaxThreads: tag = 5
        case .setContextManager: tag = 6
        case .setContextManagerExt: tag = 7
        case .threadExit: tag = 8
        case .writeRead: tag = 9
        case .enableOnewaySpamDetection: tag = 10
        case .getExtendedError: tag = 11
        case .nodeDebugInfo: tag = 12
        case .nodeInfoForRef: tag = 13
        case .freeze: tag = 14
        case .frozenInfo: tag = 15
        case .rawIoctl: tag = 16
        case .openBlocking: tag = 17
        case .poll: tag = 18
        case .signal: tag = 19
        case .flushDuplicate: tag = 20
        case .exit: tag = 21
        case .sleep: tag = 22
        case .newFile: tag = 23
        case .closeFd: tag = 24
        case .checkFd: tag = 25
        case .fdLimit: tag = 26
        }
        byte(tag)
        byte(UInt8(s.process & 0x0F) | UInt8(s.thread & 0x0F) << 4)
        switch s.action {
        case .open, .munmap, .close, .version, .setContextManager, .threadExit, .getExtendedError,
             .openBlocking, .flushDuplicate, .exit: break
        case let .poll(blocking): byte(blocking ? 1 : 0)
        case let .signal(restart): byte(restart ? 1 : 0)
        case let .mmap(pages, prot): varint(UInt64(pages)); varint(UInt64(prot))
        case let .setMaxThreads(n): varint(UInt64(n))
        case let .setContextManagerExt(p, c, f): varint(p); varint(c); varint(UInt64(f))
        case let .writeRead(wr): writeRead(wr)
        case let .enableOnewaySpamDetection(v): varint(UInt64(v))
        case let .nodeDebugInfo(p): varint(p)
        case let .nodeInfoForRef(h): varint(UInt64(h))
        case let .freeze(t, e, ms): byte(UInt8(truncatingIfNeeded: t)); varint(UInt64(e)); varint(UInt64(ms))
        case let .sleep(ms): varint(UInt64(ms))
        case let .frozenInfo(t): byte(UInt8(truncatingIfNeeded: t))
        case let .rawIoctl(c, arg, p): varint(UInt64(c)); pointer(p); blob(arg)
        case let .newFile(kind): byte(kind.rawValue)
        case let .closeFd(ref), let .checkFd(ref): fdRef(ref)
        case let .fdLimit(n): varint(UInt64(n))
        }
    }

    mutating func fdRef(_ ref: FdRef) {
        switch ref {
        case let .literal(n): byte(0); varint(UInt64(n))
        case let .created(i): byte(1); varint(UInt64(i))
        case let .received(i): byte(2); varint(UInt64(i))
        }
    }

    mutating func writeRead(_ wr: WriteRead) {
        let extras = wr.writeSizeAdjust != 0 || wr.writeConsumed != 0 || wr.readConsumed != 0
            || wr.writePointer != .valid || wr.readPointer != .valid || wr.structPointer != .valid
        byte(extras ? 1 : 0)
        varint(UInt64(wr.commands.count))
        for c in wr.commands { command(c) }
        varint(UInt64(wr.readSize))
        if extras {
            zigzag(wr.writeSizeAdjust); varint(UInt64(wr.writeConsumed)); varint(UInt64(wr.readConsumed))
            byte(wr.writePointer.rawValue | wr.readPointer.rawValue << 2 | wr.structPointer.rawValue << 4)
        }
    }

    mutating func command(_ c: Command) {
        switch c {
        case let .transaction(t): byte(0); transaction(t)
        case let .reply(t): byte(1); transaction(t)
        case let .freeBuffer(ref):
            byte(2)
            switch ref {
            case let .received(i): byte(0); varint(UInt64(i))
            case let .mappingOffset(o): byte(1); varint(o)
            case let .literal(a): byte(2); varint(a)
            }
        case let .increfs(h): byte(3); varint(UInt64(h))
        case let .acquire(h): byte(4); varint(UInt64(h))
        case let .release(h): byte(5); varint(UInt64(h))
        case let .decrefs(h): byte(6); varint(UInt64(h))
        case let .increfsDone(p, k): byte(7); varint(p); varint(k)
        case let .acquireDone(p, k): byte(8); varint(p); varint(k)
        case .registerLooper: byte(9)
        case .enterLooper: byte(10)
        case .exitLooper: byte(11)
        case let .requestDeathNotification(h, k): byte(12); varint(UInt64(h)); varint(k)
        case let .clearDeathNotification(h, k): byte(13); varint(UInt64(h)); varint(k)
        case let .deadBinderDone(k): byte(14); varint(k)
        case let .requestFreezeNotification(h, k): byte(15); varint(UInt64(h)); varint(k)
        case let .clearFreezeNotification(h, k): byte(16); varint(UInt64(h)); varint(k)
        case let .freezeNotificationDone(k): byte(17); varint(k)
        case let .raw(b): byte(18); blob(b)
        }
    }

    mutating func transaction(_ t: Transaction) {
        varint(UInt64(t.handle)); varint(UInt64(t.code)); varint(UInt64(t.flags))
        let p = t.payload
        let adjust = p.dataSizeAdjust != 0 || p.offsetsSizeAdjust != 0
        let pointers = t.dataPointer != .valid || t.offsetsPointer != .valid
        var bits: UInt8 = 0
        if t.buffersSize != nil { bits |= 1 }
        if p.offsetsOverride != nil { bits |= 2 }
        if adjust { bits |= 4 }
        if pointers { bits |= 8 }
        byte(bits)
        varint(UInt64(p.objects.count))
        for o in p.objects { object(o) }
        varint(UInt64(p.trailing))
        if let b = t.buffersSize { varint(b) }
        if let o = p.offsetsOverride { varint(UInt64(o.count)); for v in o { varint(v) } }
        if adjust { zigzag(p.dataSizeAdjust); zigzag(p.offsetsSizeAdjust) }
        if pointers { byte(t.dataPointer.rawValue | t.offsetsPointer.rawValue << 2) }
    }

    mutating func object(_ o: PayloadObject) {
        switch o.kind {
        case let .binder(p, c, f, weak): byte(weak ? 1 : 0); varint(UInt64(o.gap)); varint(p); varint(c); varint(UInt64(f))
        case let .handle(h, f, weak): byte(weak ? 3 : 2); varint(UInt64(o.gap)); varint(UInt64(h)); varint(UInt64(f))
        case let .fd(ref): byte(4); varint(UInt64(o.gap)); fdRef(ref)
        case let .ptr(l, f, parent, off): byte(5); varint(UInt64(o.gap)); varint(UInt64(l)); varint(UInt64(f)); varint(UInt64(parent)); varint(UInt64(off))
        case let .fda(n, parent, off, fds):
            byte(6); varint(UInt64(o.gap)); varint(UInt64(n)); varint(UInt64(parent)); varint(UInt64(off))
            varint(UInt64(fds.count)); for f in fds { fdRef(f) }
        case let .raw(b): byte(7); varint(UInt64(o.gap)); blob(b)
        }
    }
}

/// Total reader: past the end every read returns zero.
struct ByteReader {
    let bytes: [UInt8]
    var position = 0
    /// The format version being read: versions 1 and 2 differ in the step tags, the freeze
    /// timeout, and the limits that counts and sizes are clamped to.
    var version = WireFormat.currentVersion
    var limits: ScenarioLimits { version <= 1 ? .version1 : .current }
    /// Step tags are taken modulo this count.
    var stepTagCount: UInt8 { version <= 1 ? 17 : version == 2 ? 23 : 27 }
    init(_ bytes: [UInt8]) { self.bytes = bytes }
    var atEnd: Bool { position >= bytes.count }
    var remaining: Int { max(0, bytes.count - position) }

    mutating func byte() -> UInt8 {
        guard position < bytes.count else { return 0 }
        defer { position += 1 }
        return bytes[position]
    }
    mutating func varint() -> UInt64 {
        var v: UInt64 = 0
        var shift: UInt64 = 0
        for _ in 0..<10 {
            let b = byte()
            v |= UInt64(b & 0x7F) << shift
            if b & 0x80 == 0 || atEnd { break }
            shift += 7
        }
        return v
    }
    mutating func u32() -> UInt32 { UInt32(truncatingIfNeeded: varint()) }
    mutating func zigzag() -> Int32 {
        let u = UInt32(truncatingIfNeeded: varint())
        return Int32(bitPattern: (u >> 1) ^ (0 &- (u & 1)))
    }
    /// A count, capped by the bytes left (each element takes at least one byte) and by `cap`.
    mutating func count(cap: Int) -> Int { Int(min(varint(), UInt64(min(cap, remaining)))) }
    mutating func blob(cap: Int = 512) -> [UInt8] {
        let n = count(cap: cap)
        defer { position += n }
        return Array(bytes[position..<(position + n)])
    }
    mutating func pointer() -> PointerSpec { PointerSpec(rawValue: byte() % 3)! }

    mutating func step(processCount: Int) -> Step {
        let tag = byte() % stepTagCount
        let who = byte()
        let process = Int(who & 0x0F) % processCount
        let thread = Int(who >> 4) % Scenario.maxThreads
        let action: Action
        switch tag {
        case 0: action = .open
        case 1: action = .mmap(pages: u32(), prot: u32())
        case 2: action = .munmap
        case 3: action = .close
        case 4: action = .version
        case 5: action = .setMaxThreads(u32())
        case 6: action = .setContextManager
        case 7: action = .setContextManagerExt(ptr: varint(), cookie: varint(), flags: u32())
        case 8: action = .threadExit
        case 9: action = .writeRead(writeRead())
        case 10: action = .enableOnewaySpamDetection(u32())
        case 11: action = .getExtendedError
        case 12: action = .nodeDebugInfo(ptr: varint())
        case 13: action = .nodeInfoForRef(handle: u32())
        case 14: action = .freeze(target: Int(byte()), enable: u32(), timeoutMs: version >= 2 ? u32() : 0)
        case 15: action = .frozenInfo(target: Int(byte()))
        case 16: action = .rawIoctl(command: u32(), argument: [], pointer: pointer())
        case 17: action = .openBlocking
        case 18: action = .poll(blocking: byte() & 1 == 1)
        case 19: action = .signal(restart: byte() & 1 == 1)
        case 20: action = .flushDuplicate
        case 21: action = .exit
        case 22: action = .sleep(milliseconds: u32())
        case 23: action = .newFile(FileKind(rawValue: byte() % 2)!)
        case 24: action = .closeFd(fdRef())
        case 25: action = .checkFd(fdRef())
        default: action = .fdLimit(min(u32(), FdRules.maxLimit))
        }
        if case let .rawIoctl(c, _, p) = action {
            return Step(process, thread, .rawIoctl(command: c, argument: blob(cap: limits.rawIoctlBytes), pointer: p))
        }
        return Step(process, thread, action)
    }

    /// An FD object's fd: a literal before version 3.
    mutating func fdRef() -> FdRef {
        guard version >= 3 else { return .literal(u32()) }
        switch byte() % 3 {
        case 0: return .literal(u32())
        case 1: return .created(index: u32())
        default: return .received(index: u32())
        }
    }

    mutating func writeRead() -> WriteRead {
        let extras = byte() & 1 == 1
        var wr = WriteRead()
        let n = count(cap: limits.commandsPerWrite)
        for _ in 0..<n { wr.commands.append(command()) }
        wr.readSize = min(u32(), limits.readSize)
        if extras {
            wr.writeSizeAdjust = zigzag(); wr.writeConsumed = u32(); wr.readConsumed = u32()
            let p = byte()
            wr.writePointer = PointerSpec(rawValue: (p & 3) % 3)!
            wr.readPointer = PointerSpec(rawValue: ((p >> 2) & 3) % 3)!
            wr.structPointer = PointerSpec(rawValue: ((p >> 4) & 3) % 3)!
        }
        return wr
    }

    mutating func command() -> Command {
        switch byte() % 19 {
        case 0: return .transaction(transaction())
        case 1: return .reply(transaction())
        case 2:
            switch byte() % 3 {
            case 0: return .freeBuffer(.received(index: u32()))
            case 1: return .freeBuffer(.mappingOffset(varint()))
            default: return .freeBuffer(.literal(varint()))
            }
        case 3: return .increfs(u32())
        case 4: return .acquire(u32())
        case 5: return .release(u32())
        case 6: return .decrefs(u32())
        case 7: return .increfsDone(ptr: varint(), cookie: varint())
        case 8: return .acquireDone(ptr: varint(), cookie: varint())
        case 9: return .registerLooper
        case 10: return .enterLooper
        case 11: return .exitLooper
        case 12: return .requestDeathNotification(handle: u32(), cookie: varint())
        case 13: return .clearDeathNotification(handle: u32(), cookie: varint())
        case 14: return .deadBinderDone(cookie: varint())
        case 15: return .requestFreezeNotification(handle: u32(), cookie: varint())
        case 16: return .clearFreezeNotification(handle: u32(), cookie: varint())
        case 17: return .freezeNotificationDone(cookie: varint())
        default: return .raw(blob(cap: limits.rawCommandBytes))
        }
    }

    mutating func transaction() -> Transaction {
        var t = Transaction(handle: u32(), code: u32(), flags: u32())
        let bits = byte()
        let n = count(cap: limits.objectsPerPayload)
        for _ in 0..<n { t.payload.objects.append(object()) }
        t.payload.trailing = min(u32(), UInt32(limits.fillerBytes))
        if bits & 1 != 0 { t.buffersSize = varint() }
        if bits & 2 != 0 {
            let k = count(cap: limits.objectsPerPayload)
            t.payload.offsetsOverride = (0..<k).map { _ in varint() }
        }
        if bits & 4 != 0 { t.payload.dataSizeAdjust = zigzag(); t.payload.offsetsSizeAdjust = zigzag() }
        if bits & 8 != 0 {
            let p = byte()
            t.dataPointer = PointerSpec(rawValue: (p & 3) % 3)!
            t.offsetsPointer = PointerSpec(rawValue: ((p >> 2) & 3) % 3)!
        }
        return t
    }

    mutating func object() -> PayloadObject {
        let tag = byte() % 8
        let gap = min(u32(), UInt32(limits.fillerBytes))
        switch tag {
        case 0, 1: return PayloadObject(gap: gap, .binder(ptr: varint(), cookie: varint(), flags: u32(), weak: tag == 1))
        case 2, 3: return PayloadObject(gap: gap, .handle(u32(), flags: u32(), weak: tag == 3))
        case 4: return PayloadObject(gap: gap, .fd(fdRef()))
        case 5: return PayloadObject(gap: gap, .ptr(length: min(u32(), UInt32(limits.fillerBytes)), flags: u32(), parent: u32(), parentOffset: u32()))
        case 6:
            let (n, parent, off) = (u32(), u32(), u32())
            let fds = version >= 3 ? (0..<count(cap: limits.objectsPerPayload)).map { _ in fdRef() } : []
            return PayloadObject(gap: gap, .fda(numFds: n, parent: parent, parentOffset: off, fds: fds))
        default: return PayloadObject(gap: gap, .raw(blob(cap: 24)))
        }
    }
}
