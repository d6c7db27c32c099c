import BinderUAPI

/// Runs scenario steps on one backend and yields normalized outcomes. Knows the backend only
/// through `BinderBackend`.
public final class ScenarioRunner {
    /// What the runner knows about one process.
    struct ProcessState {
        /// The process's fds by symbolic operand; they outlive its binder opens.
        struct Fds {
            /// Fds of the files the process created (`newFile`), in order (`created#N`).
            var created: [Int32] = []
            /// Fds the driver installed for received FD and FDA objects, in order
            /// (`received-fd#N`).
            var received: [Int32] = []
        }
        var fds = Fds()
        var isOpen = false
        var isMapped = false
        var mappingBase: UInt64?
        var mappingSize: UInt64 = 0
        /// Offsets of buffers received (BR_TRANSACTION / BR_REPLY) since the last open.
        var received: [UInt64] = []
        /// The process exited: it runs no more steps.
        var exited = false
        /// Per thread: the call it is parked in, if any.
        var parked: [ParkedCall?] = Array(repeating: nil, count: Scenario.maxThreads)
        var hasParkedThread: Bool { parked.contains { $0 != nil } }
    }

    /// A call a thread is parked in, kept to decode its outcome when it returns.
    enum ParkedCall {
        case writeRead(WriteRead)
        case poll
        case ioctl(outputCount: Int)
    }

    public let backend: BinderBackend
    public let processCount: Int
    var processes: [ProcessState]

    public init(backend: BinderBackend, processCount: Int) {
        self.backend = backend
        self.processCount = processCount
        self.processes = Array(repeating: ProcessState(), count: processCount)
    }

    /// Whether `thread` of `process` is parked in the driver.
    public func isParked(_ process: ProcessIndex, _ thread: ThreadIndex) -> Bool {
        process >= 0 && process < processCount && thread >= 0 && thread < Scenario.maxThreads
            && processes[process].parked[thread] != nil
    }

    /// Whether any thread of `process` is parked in the driver.
    public func hasParkedThread(_ process: ProcessIndex) -> Bool { processes[process].hasParkedThread }

    /// Whether the process exited.
    public func hasExited(_ process: ProcessIndex) -> Bool { processes[process].exited }

    /// True when the outcome of the last step run may depend on the kernel's scheduling of the
    /// threads it woke (the backend says so; only the model knows).
    public private(set) var lastStepIsSchedulingDependent = false

    /// Runs a whole scenario.
    public static func trace(_ scenario: Scenario, on backend: BinderBackend) -> Trace {
        let runner = ScenarioRunner(backend: backend, processCount: scenario.processCount)
        var trace = Trace(backend: backend.backendName, outcomes: [])
        for step in scenario.steps {
            trace.outcomes.append(runner.run(step))
            if runner.lastStepIsSchedulingDependent, trace.firstSchedulingDependentStep == nil {
                trace.firstSchedulingDependentStep = trace.outcomes.count - 1
            }
        }
        return trace
    }

    /// Runs one step, then collects the parked threads it woke.
    public func run(_ step: Step) -> StepOutcome {
        var outcome = runAction(step)
        lastStepIsSchedulingDependent = outcome.skipped == nil && backend.lastCallIsSchedulingDependent
        guard outcome.skipped == nil else { return outcome }
        outcome.completions = backend.takeCompletions()
            .sorted { ($0.process, $0.thread) < ($1.process, $1.thread) }
            .map(completedOutcome)
        return outcome
    }

    /// The outcome of a parked call that returned with `completion.result`.
    private func completedOutcome(_ completion: ThreadCompletion) -> ThreadOutcome {
        let p = completion.process, t = completion.thread
        let call = processes[p].parked[t]
        processes[p].parked[t] = nil
        let outcome: StepOutcome
        switch call {
        case let .writeRead(wr): outcome = writeReadOutcome(p, t, wr, completion.result)
        case let .ioctl(outputCount):
            outcome = StepOutcome(result: completion.result,
                                  output: outputCount > 0 ? backend.readUser(p, address: ScratchLayout.argument(t), count: outputCount) : [])
        case .poll: outcome = StepOutcome(result: completion.result)
        case nil: outcome = StepOutcome(result: completion.result, skipped: "returned but was not parked")
        }
        return ThreadOutcome(process: p, thread: t, outcome: outcome)
    }

    /// The outcome of a call that may have parked its thread.
    private func parkable(_ step: Step, _ call: ParkedCall, _ result: Int32, _ outcome: () -> StepOutcome) -> StepOutcome {
        guard result == BinderCall.parked else { return outcome() }
        processes[step.process].parked[step.thread] = call
        return StepOutcome(parked: true)
    }

    private func runAction(_ step: Step) -> StepOutcome {
        guard step.process >= 0, step.process < processCount else { return .skip("no such process") }
        guard step.thread >= 0, step.thread < Scenario.maxThreads else { return .skip("no such thread") }
        let p = step.process
        guard !processes[p].exited else { return .skip("exited") }
        if processes[p].parked[step.thread] != nil, !step.action.isProcessEvent { return .skip("thread parked") }
        switch step.action {
        case .open, .openBlocking:
            guard !processes[p].isOpen else { return .skip("already open") }
            if processes[p].isMapped { return .skip("previous proc still mapped") }
            let r = backend.open(p, blocking: step.action == .openBlocking)
            if r == 0 {
                // A new binder proc; the process keeps its other files.
                processes[p] = ProcessState(fds: processes[p].fds, isOpen: true)
            }
            return StepOutcome(result: r)
        case let .newFile(kind):
            let r = backend.newFile(p, kind: kind)
            if r >= 0 { processes[p].fds.created.append(r) }
            return StepOutcome(result: r)
        case let .closeFd(ref):
            let fd = resolve(ref, process: p)
            // The binder fd goes by `close`, whose effects the runner tracks.
            if backend.fileIdentity(p, fd: fd) == .ownBinder { return .skip("own binder fd") }
            return StepOutcome(result: backend.closeFd(p, fd: fd))
        case let .checkFd(ref):
            let identity = backend.fileIdentity(p, fd: resolve(ref, process: p))
            return StepOutcome(result: identity == .none ? Errno.EBADF.negated : 0, file: identity)
        case let .fdLimit(n):
            return StepOutcome(result: backend.setFdLimit(p, limit: min(n, FdRules.maxLimit)))
        case let .poll(blocking):
            guard processes[p].isOpen else { return .skip("not open") }
            let r = backend.poll(p, thread: step.thread, blocking: blocking)
            return parkable(step, .poll, r) { StepOutcome(result: r) }
        case let .signal(restart):
            backend.signal(p, thread: step.thread, restart: restart)
            return StepOutcome(result: 0)
        case .flushDuplicate:
            guard processes[p].isOpen else { return .skip("not open") }
            return StepOutcome(result: backend.flushDuplicate(p))
        case let .sleep(ms):
            backend.sleep(milliseconds: ms)
            return StepOutcome(result: 0)
        case .exit:
            backend.exit(p)
            processes[p] = ProcessState(exited: true)
            return StepOutcome(result: 0)
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
            // A parked thread holds the file; its process ends by `exit` instead.
            guard !processes[p].hasParkedThread else { return .skip("threads parked") }
            processes[p].isOpen = false
            return StepOutcome(result: backend.close(p))
        default:
            guard processes[p].isOpen else { return .skip("not open") }
            return runIoctl(step)
        }
    }

    /// Writes `bytes` as the argument, runs the ioctl, and reads `outputCount` bytes back.
    private func simpleIoctl(_ step: Step, _ command: BinderIoctl, _ bytes: [UInt8], outputCount: Int) -> StepOutcome {
        let p = step.process
        let argument = ScratchLayout.argument(step.thread)
        var arg = bytes
        if arg.count < outputCount { arg += [UInt8](repeating: 0, count: outputCount - arg.count) }
        backend.writeUser(p, address: argument, bytes: arg)
        let r = backend.ioctl(p, thread: step.thread, command: command.rawValue, argument: argument)
        return parkable(step, .ioctl(outputCount: outputCount), r) {
            StepOutcome(result: r, output: outputCount > 0 ? backend.readUser(p, address: argument, count: outputCount) : [])
        }
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
        case let .freeze(target, enable, timeoutMs):
            le.appendLE32(UInt32(bitPattern: pidOf(target))); le.appendLE32(enable); le.appendLE32(timeoutMs)
            return simpleIoctl(step, .freeze, le, outputCount: 0)
        case let .frozenInfo(target):
            le.appendLE32(UInt32(bitPattern: pidOf(target)))
            var outcome = simpleIoctl(step, .getFrozenInfo, le, outputCount: 12)
            outcome.output = Array(outcome.output.dropFirst(4)) // the pid echo is environment-specific
            return outcome
        case let .rawIoctl(command, argument, pointer):
            let bytes = Array(argument.prefix(ScratchLayout.argumentCapacity))
            let address = ScratchLayout.argument(step.thread)
            if pointer == .valid { backend.writeUser(p, address: address, bytes: bytes) }
            let r = backend.ioctl(p, thread: step.thread, command: command,
                                  argument: ScratchLayout.pointer(pointer, valid: address))
            return parkable(step, .ioctl(outputCount: pointer == .valid ? bytes.count : 0), r) {
                StepOutcome(result: r, output: pointer == .valid ? backend.readUser(p, address: address, count: bytes.count) : [])
            }
        case let .writeRead(wr):
            return runWriteRead(step, wr)
        case .open, .openBlocking, .mmap, .munmap, .close, .poll, .signal, .flushDuplicate, .exit, .sleep,
             .newFile, .closeFd, .checkFd, .fdLimit:
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

    /// The fd number an `FdRef` names in process `p`.
    private func resolve(_ ref: FdRef, process p: ProcessIndex) -> Int32 {
        switch ref {
        case let .created(i):
            return Int(i) < processes[p].fds.created.count ? processes[p].fds.created[Int(i)] : FdRules.unusedFd
        case let .received(i):
            return Int(i) < processes[p].fds.received.count ? processes[p].fds.received[Int(i)] : FdRules.unusedFd
        case let .literal(n): return Int32(bitPattern: n)
        }
    }

    private func runWriteRead(_ step: Step, _ wr: WriteRead) -> StepOutcome {
        let p = step.process
        var encoder = CommandEncoder()
        encoder.encode(wr.commands, resolve: { resolve($0, process: p) }, resolveFd: { resolve($0, process: p) })
        for (address, bytes) in encoder.payloadWrites { backend.writeUser(p, address: address, bytes: bytes) }
        let writeBytes = encoder.writeBytes
        // Zero-padded so that a payload read past write_size sees defined bytes.
        backend.writeUser(p, address: ScratchLayout.writeBuffer, bytes: writeBytes + [UInt8](repeating: 0, count: 128))
        let t = step.thread
        let readSize = min(wr.readSize, WriteRead.maxReadSize)
        // Zeroed so that decoding sees defined bytes (the kernel may write a little past read_size).
        backend.writeUser(p, address: ScratchLayout.readBuffer(t), bytes: [UInt8](repeating: 0, count: Int(readSize) + 512))

        let writeSize = UInt64(bitPattern: max(0, Int64(writeBytes.count) + Int64(wr.writeSizeAdjust)))
        let bwr = BinderWriteRead(
            writeSize: writeSize, writeConsumed: UInt64(wr.writeConsumed),
            writeBuffer: ScratchLayout.pointer(wr.writePointer, valid: ScratchLayout.writeBuffer),
            readSize: UInt64(readSize), readConsumed: UInt64(min(wr.readConsumed, readSize)),
            readBuffer: ScratchLayout.pointer(wr.readPointer, valid: ScratchLayout.readBuffer(t)))
        backend.writeUser(p, address: ScratchLayout.argument(t), bytes: bwr.bytes)
        let r = backend.ioctl(p, thread: t, command: BinderIoctl.writeRead.rawValue,
                              argument: ScratchLayout.pointer(wr.structPointer, valid: ScratchLayout.argument(t)))
        return parkable(step, .writeRead(wr), r) { writeReadOutcome(p, t, wr, r) }
    }

    /// Reads back what a BINDER_WRITE_READ of thread `t` that returned `r` wrote.
    private func writeReadOutcome(_ p: ProcessIndex, _ t: ThreadIndex, _ wr: WriteRead, _ r: Int32) -> StepOutcome {
        guard wr.structPointer == .valid else { return StepOutcome(result: r) }
        let back = BinderWriteRead(bytes: backend.readUser(p, address: ScratchLayout.argument(t), count: BinderWriteRead.size))
        var outcome = StepOutcome(result: r, writeConsumed: back.writeConsumed, readConsumed: back.readConsumed)
        if wr.readPointer == .valid, back.readConsumed > 0 {
            let count = Int(min(back.readConsumed, UInt64(ScratchLayout.readRegion)))
            let bytes = backend.readUser(p, address: ScratchLayout.readBuffer(t), count: count)
            // The driver writes from the incoming read_consumed on; the bytes before it are the
            // runner's zeros, except that BR_SPAWN_LOOPER goes to the buffer's first word.
            let entry = Int(min(wr.readConsumed, min(wr.readSize, WriteRead.maxReadSize)))
            if entry == 0 {
                outcome.returns = decodeReturns(bytes, reader: p)
            } else {
                if entry >= 4, bytes.count >= 4, bytes.le32(at: 0) != 0 {
                    outcome.returns.append(.plain(BinderReturn(rawValue: bytes.le32(at: 0))))
                }
                if entry < bytes.count { outcome.returns += decodeReturns(Array(bytes[entry...]), reader: p) }
            }
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
        var fds: [Int32] = []
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
            fds = installedFds(data, offsetsArray, reader: p)
            processes[p].fds.received += fds
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
            data: data, offsetsArray: offsetsArray, fds: fds)
    }

    /// The fds `binder_apply_fd_fixups` wrote into a delivered payload, in the order it
    /// installed them (object order; an FDA's array in order): an FD object's `fd` field, and
    /// each entry of an FDA's array in its parent buffer.
    private func installedFds(_ data: [UInt8], _ offsets: [UInt64], reader p: ProcessIndex) -> [Int32] {
        var fds: [Int32] = []
        guard let base = processes[p].mappingBase else { return [] }
        for o in offsets where o <= UInt64(data.count) && Int(o) + 8 <= data.count {
            let at = Int(o)
            switch data.le32(at: at) {
            case BinderObjectType.fd.rawValue where at + 12 <= data.count:
                fds.append(Int32(bitPattern: data.le32(at: at + 8)))
            case BinderObjectType.fda.rawValue where at + 32 <= data.count:
                let n = data.le64(at: at + 8), parent = data.le64(at: at + 16), parentOffset = data.le64(at: at + 24)
                guard n > 0, n <= 4096, parent < UInt64(offsets.count), offsets[Int(parent)] <= UInt64(data.count) - 16 else { continue }
                let parentAddress = data.le64(at: Int(offsets[Int(parent)]) + 8)
                guard parentAddress >= base,
                      let raw = backend.readMapping(p, offset: parentAddress - base &+ parentOffset, count: Int(n) * 4) else { continue }
                fds += (0..<Int(n)).map { Int32(bitPattern: raw.le32(at: $0 * 4)) }
            default: break
            }
        }
        return fds
    }
}
