import BinderUAPI

/// A complete binary encoding of step outcomes, used to bring traces back from the kernel VM
/// (as hex lines on the serial console) and to store expected kernel traces beside scenarios.
public enum TraceCodec {
    public static func encode(_ o: StepOutcome) -> [UInt8] {
        var w = ByteWriter()
        var flags: UInt8 = 0
        if o.result != nil { flags |= 1 }
        if o.skipped != nil { flags |= 2 }
        if o.writeConsumed != nil { flags |= 4 }
        if o.readConsumed != nil { flags |= 8 }
        if o.parked { flags |= 16 }
        if !o.completions.isEmpty { flags |= 32 }
        if o.file != nil { flags |= 64 }
        w.byte(flags)
        if let r = o.result { w.zigzag(r) }
        if let s = o.skipped { w.blob(Array(s.utf8)) }
        if let v = o.writeConsumed { w.varint(v) }
        if let v = o.readConsumed { w.varint(v) }
        w.blob(o.output)
        w.varint(UInt64(o.returns.count))
        for r in o.returns { encode(r, &w) }
        if !o.completions.isEmpty {
            w.varint(UInt64(o.completions.count))
            for c in o.completions { w.varint(UInt64(c.process)); w.varint(UInt64(c.thread)); w.blob(encode(c.outcome)) }
        }
        if let f = o.file {
            switch f {
            case .none: w.byte(0)
            case .ownBinder: w.byte(1)
            case .binder: w.byte(2)
            case let .file(i, kind): w.byte(3); w.varint(UInt64(i)); w.byte(kind.rawValue)
            case .other: w.byte(4)
            }
        }
        return w.bytes
    }

    static func address(_ a: NormalizedAddress, _ w: inout ByteWriter) {
        switch a {
        case let .mapped(p, off): w.byte(0); w.varint(UInt64(p)); w.varint(off)
        case let .raw(v): w.byte(1); w.varint(v)
        }
    }

    static func encode(_ r: DecodedReturn, _ w: inout ByteWriter) {
        switch r {
        case let .plain(c): w.byte(0); w.varint(UInt64(c.rawValue))
        case let .ptrCookie(c, p, k): w.byte(1); w.varint(UInt64(c.rawValue)); w.varint(p); w.varint(k)
        case let .cookie(c, k): w.byte(2); w.varint(UInt64(c.rawValue)); w.varint(k)
        case let .transaction(c, t):
            // Tag 7: the same, followed by the installed fds.
            w.byte(t.fds.isEmpty ? 3 : 7); w.varint(UInt64(c.rawValue))
            w.varint(t.targetPtr); w.varint(t.cookie); w.varint(UInt64(t.code)); w.varint(UInt64(t.flags))
            w.zigzag(Int32(t.senderProcess)); w.varint(UInt64(t.senderEUID)); w.varint(t.dataSize); w.varint(t.offsetsSize)
            address(t.buffer, &w); address(t.offsets, &w)
            if let s = t.securityContext { w.byte(1); address(s, &w) } else { w.byte(0) }
            w.blob(t.data)
            w.varint(UInt64(t.offsetsArray.count)); for v in t.offsetsArray { w.varint(v) }
            if !t.fds.isEmpty { w.varint(UInt64(t.fds.count)); for f in t.fds { w.zigzag(f) } }
        case let .frozenBinder(k, f, r): w.byte(4); w.varint(k); w.varint(UInt64(f)); w.varint(UInt64(r))
        case let .truncated(c, b): w.byte(5); w.varint(UInt64(c)); w.blob(b)
        case let .unknown(v): w.byte(6); w.varint(UInt64(v))
        }
    }

    public static func decode(_ bytes: [UInt8]) -> StepOutcome {
        var r = ByteReader(bytes)
        let flags = r.byte()
        var o = StepOutcome()
        if flags & 1 != 0 { o.result = r.zigzag() }
        if flags & 2 != 0 { o.skipped = String(decoding: r.blob(cap: 1 << 20), as: UTF8.self) }
        if flags & 4 != 0 { o.writeConsumed = r.varint() }
        if flags & 8 != 0 { o.readConsumed = r.varint() }
        o.output = r.blob(cap: 1 << 20)
        let n = r.count(cap: 1 << 16)
        for _ in 0..<n { o.returns.append(decodeReturn(&r)) }
        o.parked = flags & 16 != 0
        if flags & 32 != 0 {
            let k = r.count(cap: 64)
            for _ in 0..<k {
                let process = Int(min(r.varint(), 64)), thread = Int(min(r.varint(), 64))
                o.completions.append(ThreadOutcome(process: process, thread: thread, outcome: decode(r.blob(cap: 1 << 20))))
            }
        }
        if flags & 64 != 0 {
            switch r.byte() {
            case 0: o.file = FileIdentity.none
            case 1: o.file = .ownBinder
            case 2: o.file = .binder
            case 3: o.file = .file(index: Int(min(r.varint(), 1 << 20)), kind: FileKind(rawValue: r.byte() % 2)!)
            default: o.file = .other
            }
        }
        return o
    }

    static func address(_ r: inout ByteReader) -> NormalizedAddress {
        r.byte() == 0 ? .mapped(process: Int(r.varint()), offset: r.varint()) : .raw(r.varint())
    }

    static func decodeReturn(_ r: inout ByteReader) -> DecodedReturn {
        switch r.byte() {
        case 0: return .plain(BinderReturn(rawValue: r.u32()))
        case 1: return .ptrCookie(BinderReturn(rawValue: r.u32()), ptr: r.varint(), cookie: r.varint())
        case 2: return .cookie(BinderReturn(rawValue: r.u32()), r.varint())
        case let tag where tag == 3 || tag == 7:
            let c = BinderReturn(rawValue: r.u32())
            let targetPtr = r.varint(), cookie = r.varint(), code = r.u32(), flags = r.u32()
            let sender = Int(r.zigzag()), euid = r.u32(), dataSize = r.varint(), offsetsSize = r.varint()
            let buffer = address(&r), offsets = address(&r)
            let sec: NormalizedAddress? = r.byte() == 1 ? address(&r) : nil
            let data = r.blob(cap: 1 << 20)
            let k = r.count(cap: 1 << 16)
            let arr = (0..<k).map { _ in r.varint() }
            let fds = tag == 7 ? (0..<r.count(cap: 1 << 16)).map { _ in r.zigzag() } : []
            return .transaction(c, ReceivedTransaction(
                targetPtr: targetPtr, cookie: cookie, code: code, flags: flags, senderProcess: sender, senderEUID: euid,
                dataSize: dataSize, offsetsSize: offsetsSize, buffer: buffer, offsets: offsets, securityContext: sec,
                data: data, offsetsArray: arr, fds: fds))
        case 4: return .frozenBinder(cookie: r.varint(), isFrozen: r.u32(), reserved: r.u32())
        case 5: return .truncated(code: r.u32(), bytes: r.blob(cap: 1 << 20))
        default: return .unknown(r.u32())
        }
    }

    public static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8](); out.reserveCapacity(bytes.count * 2)
        for b in bytes { out.append(digits[Int(b >> 4)]); out.append(digits[Int(b & 15)]) }
        return String(decoding: out, as: UTF8.self)
    }

    public static func unhex(_ s: Substring) -> [UInt8]? {
        let u = Array(s.utf8)
        guard u.count % 2 == 0 else { return nil }
        func v(_ c: UInt8) -> UInt8? {
            switch c {
            case 48...57: return c - 48
            case 97...102: return c - 87
            default: return nil
            }
        }
        var out: [UInt8] = []
        var i = 0
        while i < u.count {
            guard let a = v(u[i]), let b = v(u[i + 1]) else { return nil }
            out.append(a << 4 | b); i += 2
        }
        return out
    }
}
