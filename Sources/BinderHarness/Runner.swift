import BinderUAPI

/// Runs scenario steps on one backend and yields normalized outcomes. Knows the backend only
/// through `BinderBackend`.
public final class ScenarioRunner {
    /// What the runner knows about one process.
    struct ProcessState {
        var isOpen = false
        var isMapped = false
        var mappingBase: UInt64?
        var mappingSize: UInt64 = 0
        /// Offsets of buffers received (BR_TRANSACTION / BR_REPLY) since the last open.
        var received: [UInt64] = []
    }

    public let backend: BinderBackend
    public let processCount: Int
    var processes: [ProcessState]

    public init(backend: BinderBackend, processCount: Int) {
        self.backend = backend
        self.processCount = processCount
        self.processes = Array(repeating: ProcessState(), count: processCount)
    }

    /// Runs a whole scenario.
    public static func trace(_ scenario: Scenario, on backend: BinderBackend) -> Trace {
        let runner = ScenarioRunner(backend: backend, processCount: scenario.processCount)
        return Trace(backend: backend.backendName, outcomes: scenario.steps.map { runner.run($0) })
    }

    /// Runs one step.
    public func run(_ step: Step) -> StepOutcome {
        guard step.process >= 0, step.process < processCount else { return .skip("no such process") }
        guard step.thread >= 0, step.thread < Scenario.maxThreads else { return .skip("no such thread") }
        let p = step.process
        switch step.action {
        case .open:
            guard !processes[p].isOpen else { return .skip("already open") }
            if processes[p].isMapped { return .skip("previous proc still mapped") }
            let r = backend.open(p)
            if r == 0 { processes[p] = ProcessState(isOpen: true) }
            return StepOutcome(result: r)
        case let .mmap(pages, prot):
            guard processes[p].isOpen else { return .skip("not open") }
            guard pages > 0, pages <= 2048 else { return .skip("bad length") }
            switch backend.mmap(p, length: UInt64(pages) * MmapRules.pageSize, prot: prot) {
            case let .mapped(base):
                processes[p].isMapped = true
                processes[p].mappingBase = base
                processes[p].mappingSize = min(UInt64(pages) * MmapRules.pageSize, MmapRules.maxBufferSize)
                return StepOutcome(result: 0)
            case let .failed(e):
                return StepOutcome(result: e.negated)
            }
        case .munmap:
            guard processes[p].isMapped else { return .skip("not mapped") }
            processes[p].isMapped = false
            return StepOutcome(result: backend.munmap(p))
        case .close:
            guard processes[p].isOpen else { return .skip("not open") }
            processes[p].isOpen = false
            return StepOutcome(result: backend.close(p))
        default:
            guard processes[p].isOpen else { return .skip("not open") }
            return runIoctl(step)
        }
    }

    private func ioctl(_ step: Step, _ command: BinderIoctl, _ argument: UInt64) -> Int32 {
        backend.ioctl(step.process, thread: step.thread, command: command.rawValue, argument: argument)
    }

    /// Writes `bytes` as the argument, runs the ioctl, and reads `outputCount` bytes back.
    private func simpleIoctl(_ step: Step, _ command: BinderIoctl, _ bytes: [UInt8], outputCount: Int) -> StepOutcome {
        let p = step.process
        var arg = bytes
        if arg.count < outputCount { arg += [UInt8](repeating: 0, count: outputCount - arg.count) }
        backend.writeUser(p, address: ScratchLayout.argument, bytes: arg)
        let r = ioctl(step, command, ScratchLayout.argument)
        let out = outputCount > 0 ? backend.readUser(p, address: ScratchLayout.argument, count: outputCount) : []
        return StepOutcome(result: r, output: out)
    }

    private func runIoctl(_ step: Step) -> StepOutcome {
        let p = step.process
        var le: [UInt8] = []
        switch step.action {
        case .version:
            return simpleIoctl(step, .version, [], outputCount: 4)
        case let .setMaxThreads(n):
            le.appendLE32(n)
            return simpleIoctl(step, .setMaxThreads, le, outputCount: 0)
        case .setContextManager:
            le.appendLE32(0)
            return simpleIoctl(step, .setContextMgr, le, outputCount: 0)
        case let .setContextManagerExt(ptr, cookie, flags):
            let fbo = FlatBinderObject(type: .binder, flags: flags, binderOrHandle: ptr, cookie: cookie)
            return simpleIoctl(step, .setContextMgrExt, fbo.bytes, outputCount: 0)
        case .threadExit:
            le.appendLE32(0)
            return simpleIoctl(step, .threadExit, le, outputCount: 0)
        case let .enableOnewaySpamDetection(v):
            le.appendLE32(v)
            return simpleIoctl(step, .enableOnewaySpamDetection, le, outputCount: 0)
        case .getExtendedError:
            var outcome = simpleIoctl(step, .getExtendedError, [], outputCount: 12)
            // `id` is the debug id of the last transaction: a counter global to the machine
            // (binder_last_id). Normalized to "none" (0) or "some" (1).
            if outcome.output.count == 12 { outcome.output.putLE32(outcome.output.le32(at: 0) == 0 ? 0 : 1, at: 0) }
            return outcome
        case let .nodeDebugInfo(ptr):
            le.appendLE64(ptr)
            return simpleIoctl(step, .getNodeDebugInfo, le, outputCount: 24)
        case let .nodeInfoForRef(handle):
            le.appendLE32(handle)
            return simpleIoctl(step, .getNodeInfoForRef, le, outputCount: 24)
        case let .freeze(target, enable):
            le.appendLE32(UInt32(bitPattern: pidOf(target))); le.appendLE32(enable); le.appendLE32(0)
            return simpleIoctl(step, .freeze, le, outputCount: 0)
        case let .frozenInfo(target):
            le.appendLE32(UInt32(bitPattern: pidOf(target)))
            var outcome = simpleIoctl(step, .getFrozenInfo, le, outputCount: 12)
            outcome.output = Array(outcome.output.dropFirst(4)) // the pid echo is environment-specific
            return outcome
        case let .rawIoctl(command, argument, pointer):
            let bytes = Array(argument.prefix(ScratchLayout.argumentCapacity))
            if pointer == .valid { backend.writeUser(p, address: ScratchLayout.argument, bytes: bytes) }
            let r = backend.ioctl(p, thread: step.thread, command: command,
                                  argument: ScratchLayout.pointer(pointer, valid: ScratchLayout.argument))
            let out = pointer == .valid ? backend.readUser(p, address: ScratchLayout.argument, count: bytes.count) : []
            return StepOutcome(result: r, output: out)
        case let .writeRead(wr):
            return runWriteRead(step, wr)
        case .open, .mmap, .munmap, .close:
            return .skip("unreachable")
        }
    }

    /// The pid of a scenario process as this backend reports it; an out-of-range target gives
    /// a pid no process has.
    private func pidOf(_ target: ProcessIndex) -> Int32 {
        target >= 0 && target < processCount ? backend.pid(of: target) : 0x3FFF_FFF0
    }

    private func resolve(_ ref: BufferRef, process p: ProcessIndex) -> UInt64 {
        let base = processes[p].mappingBase ?? 0
        switch ref {
        case let .received(index):
            let list = processes[p].received
            return Int(index) < list.count ? base &+ list[Int(index)] : base &+ 8
        case let .mappingOffset(off): return base &+ off
        case let .literal(a): return a
        }
    }

    private func runWriteRead(_ step: Step, _ wr: WriteRead) -> StepOutcome {
        let p = step.process
        var encoder = CommandEncoder()
        encoder.encode(wr.commands) { resolve($0, process: p) }
        for (address, bytes) in encoder.payloadWrites { backend.writeUser(p, address: address, bytes: bytes) }
        let writeBytes = encoder.writeBytes
        // Zero-padded so that a payload read past write_size sees defined bytes.
        backend.writeUser(p, address: ScratchLayout.writeBuffer, bytes: writeBytes + [UInt8](repeating: 0, count: 128))
        let readSize = min(wr.readSize, WriteRead.maxReadSize)
        // Zeroed so that decoding sees defined bytes (the kernel may write a little past read_size).
        backend.writeUser(p, address: ScratchLayout.readBuffer, bytes: [UInt8](repeating: 0, count: Int(readSize) + 512))

        let writeSize = UInt64(bitPattern: max(0, Int64(writeBytes.count) + Int64(wr.writeSizeAdjust)))
        let bwr = BinderWriteRead(
            writeSize: writeSize, writeConsumed: UInt64(wr.writeConsumed),
            writeBuffer: ScratchLayout.pointer(wr.writePointer, valid: ScratchLayout.writeBuffer),
            readSize: UInt64(readSize), readConsumed: UInt64(min(wr.readConsumed, readSize)),
            readBuffer: ScratchLayout.pointer(wr.readPointer, valid: ScratchLayout.readBuffer))
        backend.writeUser(p, address: ScratchLayout.argument, bytes: bwr.bytes)
        let r = backend.ioctl(p, thread: step.thread, command: BinderIoctl.writeRead.rawValue,
                              argument: ScratchLayout.pointer(wr.structPointer, valid: ScratchLayout.argument))
        guard wr.structPointer == .valid else { return StepOutcome(result: r) }
        let back = BinderWriteRead(bytes: backend.readUser(p, address: ScratchLayout.argument, count: BinderWriteRead.size))
        var outcome = StepOutcome(result: r, writeConsumed: back.writeConsumed, readConsumed: back.readConsumed)
        if wr.readPointer == .valid, back.readConsumed > 0 {
            let count = Int(min(back.readConsumed, UInt64(ScratchLayout.readRegion)))
            let bytes = backend.readUser(p, address: ScratchLayout.readBuffer, count: count)
            outcome.returns = decodeReturns(bytes, reader: p)
        }
        return outcome
    }

    /// Decodes a read buffer's BR stream; records received buffers for later symbolic references.
    func decodeReturns(_ bytes: [UInt8], reader p: ProcessIndex) -> [DecodedReturn] {
        var result: [DecodedReturn] = []
        var i = 0
        while i < bytes.count {
            guard i + 4 <= bytes.count else {
                result.append(.truncated(code: 0, bytes: Array(bytes[i...]))); break
            }
            let word = bytes.le32(at: i)
            let code = BinderReturn(rawValue: word)
            guard code.name != nil else { result.append(.unknown(word)); break }
            let size = code.wirePayloadSize
            guard i + 4 + size <= bytes.count else {
                result.append(.truncated(code: word, bytes: Array(bytes[(i + 4)...]))); break
            }
            let body = Array(bytes[(i + 4)..<(i + 4 + size)])
            i += 4 + size
            switch code {
            case .increfs, .acquire, .release, .decrefs:
                result.append(.ptrCookie(code, ptr: body.le64(at: 0), cookie: body.le64(at: 8)))
            case .deadBinder, .clearDeathNotificationDone, .clearFreezeNotificationDone:
                result.append(.cookie(code, body.le64(at: 0)))
            case .frozenBinder:
                result.append(.frozenBinder(cookie: body.le64(at: 0), isFrozen: body.le32(at: 8), reserved: body.le32(at: 12)))
            case .transaction, .reply, .transactionSecCtx:
                result.append(.transaction(code, receivedTransaction(body, secctx: code == .transactionSecCtx, reader: p)))
            case .acquireResult, .attemptAcquire:
                result.append(.truncated(code: word, bytes: body))
            default:
                result.append(.plain(code))
            }
        }
        return result
    }

    func normalize(_ address: UInt64, process p: ProcessIndex) -> NormalizedAddress {
        let state = processes[p]
        if let base = state.mappingBase, address >= base, address - base < max(state.mappingSize, 1) {
            return .mapped(process: p, offset: address - base)
        }
        return .raw(address)
    }

    private func senderProcess(_ pid: Int32) -> Int {
        if pid == 0 { return -1 }
        for q in 0..<processCount where backend.pid(of: q) == pid { return q }
        return -2
    }

    private func receivedTransaction(_ body: [UInt8], secctx: Bool, reader p: ProcessIndex) -> ReceivedTransaction {
        let td = TransactionData(bytes: body)
        let buffer = normalize(td.buffer, process: p)
        var data: [UInt8] = []
        var offsetsArray: [UInt64] = []
        if case let .mapped(_, offset) = buffer {
            processes[p].received.append(offset)
            let dataCount = Int(min(td.dataSize, 1 << 16))
            data = backend.readMapping(p, offset: offset, count: dataCount) ?? []
            if case let .mapped(_, offsetsOffset) = normalize(td.offsets, process: p) {
                let n = Int(min(td.offsetsSize / 8, 4096))
                if let raw = backend.readMapping(p, offset: offsetsOffset, count: n * 8) {
                    offsetsArray = (0..<n).map { raw.le64(at: $0 * 8) }
                }
            }
            // PTR objects carry addresses in the receiver's mapping: rewrite them as offsets.
            for o in offsetsArray where o <= UInt64(data.count) && Int(o) + 16 <= data.count {
                let at = Int(o)
                if data.le32(at: at) == BinderObjectType.ptr.rawValue {
                    if case let .mapped(_, off) = normalize(data.le64(at: at + 8), process: p) {
                        data.putLE64(off, at: at + 8)
                    }
                }
            }
        }
        return ReceivedTransaction(
            targetPtr: td.target, cookie: td.cookie, code: td.code, flags: td.flags,
            senderProcess: senderProcess(td.senderPID), senderEUID: td.senderEUID,
            dataSize: td.dataSize, offsetsSize: td.offsetsSize, buffer: buffer,
            offsets: normalize(td.offsets, process: p),
            securityContext: secctx ? normalize(body.count >= 72 ? body.le64(at: 64) : 0, process: p) : nil,
            data: data, offsetsArray: offsetsArray)
    }
}
