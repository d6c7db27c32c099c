import BinderUAPI

/// Encodes a step's BC commands into write-buffer bytes and places transaction payloads in
/// scratch memory. Symbolic buffer and fd references are resolved against the runner's state.
///
/// A scenario within `ScenarioLimits.current` is encoded whole. Past the scratch regions (only
/// decoded fuzzer bytes get there; `ScenarioLimits.check` rejects such scenarios elsewhere) the
/// write buffer ends before the command that does not fit, and a payload that does not fit is
/// not placed.
struct CommandEncoder {
    var writeBytes: [UInt8] = []
    /// Payload region writes to perform before the ioctl: (address, bytes).
    var payloadWrites: [(UInt64, [UInt8])] = []
    /// Payload bytes the commands need (aligned, with slack), whether or not they fit.
    private(set) var payloadBytes = 0
    private var payloadCursor: UInt64 = ScratchLayout.payload
    private let payloadEnd = ScratchLayout.payload + UInt64(ScratchLayout.payloadCapacity)

    mutating func encode(_ commands: [Command], resolve: (BufferRef) -> UInt64, resolveFd: (FdRef) -> Int32 = { _ in 0 }) {
        for command in commands {
            let before = writeBytes.count
            encode(command, resolve: resolve, resolveFd: resolveFd)
            if writeBytes.count > ScratchLayout.writeCapacity { writeBytes.removeSubrange(before...); break }
        }
    }

    private mutating func encode(_ command: Command, resolve: (BufferRef) -> UInt64, resolveFd: (FdRef) -> Int32) {
        func code(_ c: BinderCommand) { writeBytes.appendLE32(c.rawValue) }
        switch command {
        case let .transaction(t): encodeTransaction(t, reply: false, resolveFd: resolveFd)
        case let .reply(t): encodeTransaction(t, reply: true, resolveFd: resolveFd)
        case let .freeBuffer(ref): code(.freeBuffer); writeBytes.appendLE64(resolve(ref))
        case let .increfs(h): code(.increfs); writeBytes.appendLE32(h)
        case let .acquire(h): code(.acquire); writeBytes.appendLE32(h)
        case let .release(h): code(.release); writeBytes.appendLE32(h)
        case let .decrefs(h): code(.decrefs); writeBytes.appendLE32(h)
        case let .increfsDone(p, c): code(.increfsDone); writeBytes.appendLE64(p); writeBytes.appendLE64(c)
        case let .acquireDone(p, c): code(.acquireDone); writeBytes.appendLE64(p); writeBytes.appendLE64(c)
        case .registerLooper: code(.registerLooper)
        case .enterLooper: code(.enterLooper)
        case .exitLooper: code(.exitLooper)
        case let .requestDeathNotification(h, c): code(.requestDeathNotification); writeBytes.appendLE32(h); writeBytes.appendLE64(c)
        case let .clearDeathNotification(h, c): code(.clearDeathNotification); writeBytes.appendLE32(h); writeBytes.appendLE64(c)
        case let .deadBinderDone(c): code(.deadBinderDone); writeBytes.appendLE64(c)
        case let .requestFreezeNotification(h, c): code(.requestFreezeNotification); writeBytes.appendLE32(h); writeBytes.appendLE64(c)
        case let .clearFreezeNotification(h, c): code(.clearFreezeNotification); writeBytes.appendLE32(h); writeBytes.appendLE64(c)
        case let .freezeNotificationDone(c): code(.freezeNotificationDone); writeBytes.appendLE64(c)
        case let .raw(bytes): writeBytes.append(contentsOf: bytes)
        }
    }

    /// Reserves `count` bytes of payload space, 8-aligned; nil when the region is full.
    private mutating func reserve(_ count: Int) -> UInt64? {
        let start = (payloadCursor + 7) & ~7
        guard start + UInt64(count) <= payloadEnd else { return nil }
        payloadCursor = start + UInt64(count)
        return start
    }

    private mutating func encodeTransaction(_ t: Transaction, reply: Bool, resolveFd: (FdRef) -> Int32) {
        var data: [UInt8] = []
        var offsets: [UInt64] = []
        var blobs: [(objectOffset: Int, bytes: [UInt8])] = []
        /// Per object, its blob's index in `blobs` (PTR objects only).
        var blobOfObject: [Int?] = []
        func filler(_ n: UInt32) {
            for _ in 0..<Int(min(n, UInt32(ScenarioLimits.current.fillerBytes))) { data.append(Payload.fillerByte(data.count)) }
        }
        for object in t.payload.objects {
            filler(object.gap)
            offsets.append(UInt64(data.count))
            var o: [UInt8] = []
            switch object.kind {
            case let .binder(ptr, cookie, flags, weak):
                o = FlatBinderObject(type: weak ? .weakBinder : .binder, flags: flags, binderOrHandle: ptr, cookie: cookie).bytes
            case let .handle(h, flags, weak):
                o = FlatBinderObject(type: weak ? .weakHandle : .handle, flags: flags, binderOrHandle: UInt64(h)).bytes
            case let .fd(ref):
                o.appendLE32(BinderObjectType.fd.rawValue); o.appendLE32(0)
                o.appendLE32(UInt32(bitPattern: resolveFd(ref))); o.appendLE32(0); o.appendLE64(0)
            case let .ptr(length, flags, parent, parentOffset):
                o.appendLE32(BinderObjectType.ptr.rawValue); o.appendLE32(flags)
                o.appendLE64(0) // blob address, patched below
                o.appendLE64(UInt64(length)); o.appendLE64(UInt64(parent)); o.appendLE64(UInt64(parentOffset))
                blobs.append((data.count, (0..<Int(min(length, UInt32(ScenarioLimits.current.fillerBytes)))).map { Payload.fillerByte($0 &+ 101) }))
            case let .fda(n, parent, parentOffset, fds):
                o.appendLE32(BinderObjectType.fda.rawValue); o.appendLE32(0)
                o.appendLE64(UInt64(n)); o.appendLE64(UInt64(parent)); o.appendLE64(UInt64(parentOffset))
                // The fds go into the parent PTR's blob (the parent index names an object when
                // the offsets array is not overridden), as far as the blob goes.
                if Int(parent) < blobOfObject.count, let b = blobOfObject[Int(parent)] {
                    for (k, ref) in fds.enumerated() {
                        let at = Int(parentOffset) + 4 * k
                        guard at >= 0, at + 4 <= blobs[b].bytes.count else { break }
                        blobs[b].bytes.putLE32(UInt32(bitPattern: resolveFd(ref)), at: at)
                    }
                }
            case let .raw(bytes):
                o = Array(bytes.prefix(24)); while o.count < 24 { o.append(0) }
            }
            if case .ptr = object.kind { blobOfObject.append(blobs.count - 1) } else { blobOfObject.append(nil) }
            data.append(contentsOf: o)
        }
        filler(t.payload.trailing)
        if let override = t.payload.offsetsOverride { offsets = override }

        var offsetsBytes: [UInt8] = []
        for o in offsets { offsetsBytes.appendLE64(o) }
        // Place data, offsets and blobs; a little zeroed slack after each lets adjusted sizes read defined bytes.
        let slack = 256
        func aligned(_ n: Int) -> Int { (n + 7) & ~7 }
        payloadBytes += aligned(data.count + slack) + aligned(offsetsBytes.count + slack) + blobs.map { aligned($0.bytes.count + 8) }.reduce(0, +)
        guard let dataAddress = reserve(data.count + slack), let offsetsAddress = reserve(offsetsBytes.count + slack) else {
            return
        }
        for (objectOffset, blob) in blobs {
            guard let blobAddress = reserve(blob.count + 8) else { break }
            data.putLE64(blobAddress, at: objectOffset + 8)
            payloadWrites.append((blobAddress, blob + [UInt8](repeating: 0, count: 8)))
        }
        payloadWrites.append((dataAddress, data + [UInt8](repeating: 0, count: slack)))
        payloadWrites.append((offsetsAddress, offsetsBytes + [UInt8](repeating: 0, count: slack)))

        let dataSize = UInt64(bitPattern: Int64(data.count) + Int64(t.payload.dataSizeAdjust))
        let offsetsSize = UInt64(bitPattern: Int64(offsetsBytes.count) + Int64(t.payload.offsetsSizeAdjust))
        let td = TransactionData(target: UInt64(t.handle), cookie: 0, code: t.code, flags: t.flags,
                                 dataSize: dataSize, offsetsSize: offsetsSize,
                                 buffer: ScratchLayout.pointer(t.dataPointer, valid: dataAddress),
                                 offsets: ScratchLayout.pointer(t.offsetsPointer, valid: offsetsAddress))
        if let buffersSize = t.buffersSize {
            writeBytes.appendLE32((reply ? BinderCommand.replySG : .transactionSG).rawValue)
            writeBytes.append(contentsOf: td.bytes)
            writeBytes.appendLE64(buffersSize)
        } else {
            writeBytes.appendLE32((reply ? BinderCommand.reply : .transaction).rawValue)
            writeBytes.append(contentsOf: td.bytes)
        }
    }
}

extension WriteRead {
    /// Where each command starts in the encoded write buffer, plus the end: the write_consumed a
    /// kernel reports after consuming that many whole commands. Buffer references resolve to 0
    /// (they do not change sizes).
    public var commandBoundaries: [Int] {
        var encoder = CommandEncoder()
        var bounds = [0]
        for command in commands {
            encoder.encode([command], resolve: { _ in 0 })
            bounds.append(encoder.writeBytes.count)
        }
        return bounds
    }
}
