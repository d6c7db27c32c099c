import BinderUAPI

/// The readable text form of scenarios: one line per step, `P<process>.T<thread> <action>`.
public enum ScenarioText {
    static func hex<T: BinaryInteger>(_ v: T) -> String { "0x" + String(v, radix: 16) }

    public static func render(_ scenario: Scenario) -> String {
        var lines = ["# binder scenario v\(WireFormat.currentVersion), \(scenario.processCount) processes, \(scenario.steps.count) steps"]
        for (i, step) in scenario.steps.enumerated() { lines.append(padIndex(i) + "  " + describe(step)) }
        return lines.joined(separator: "\n")
    }

    /// Renders a scenario with each step's outcome below it.
    public static func render(_ scenario: Scenario, outcomes: [StepOutcome]) -> String {
        var lines = ["# binder scenario v\(WireFormat.currentVersion), \(scenario.processCount) processes, \(scenario.steps.count) steps"]
        for (i, step) in scenario.steps.enumerated() {
            lines.append(padIndex(i) + "  " + describe(step))
            if i < outcomes.count { lines.append("        " + outcomes[i].description) }
        }
        return lines.joined(separator: "\n")
    }

    public static func describe(_ step: Step) -> String {
        "P\(step.process).T\(step.thread) " + describe(step.action)
    }

    public static func actionName(_ action: Action) -> String {
        switch action {
        case .open: return "open"
        case .openBlocking: return "open-blocking"
        case .poll: return "poll"
        case .signal: return "signal"
        case .flushDuplicate: return "dup-close"
        case .exit: return "exit"
        case .sleep: return "sleep"
        case .mmap: return "mmap"
        case .munmap: return "munmap"
        case .close: return "close"
        case .version: return "version"
        case .setMaxThreads: return "set-max-threads"
        case .setContextManager: return "set-context-mgr"
        case .setContextManagerExt: return "set-context-mgr-ext"
        case .threadExit: return "thread-exit"
        case let .writeRead(wr):
            let names = wr.commands.map { command(name: $0) }
            return "write-read[" + names.joined(separator: ",") + (wr.readSize > 0 ? ",read" : "") + "]"
        case .enableOnewaySpamDetection: return "enable-oneway-spam-detection"
        case .getExtendedError: return "get-extended-error"
        case .nodeDebugInfo: return "node-debug-info"
        case .nodeInfoForRef: return "node-info-for-ref"
        case .freeze: return "freeze"
        case .frozenInfo: return "frozen-info"
        case let .rawIoctl(c, _, _): return "ioctl-\(hex(c))"
        case .newFile: return "file"
        case .closeFd: return "close-fd"
        case .checkFd: return "check-fd"
        case .fdLimit: return "fd-limit"
        }
    }

    /// `created#N`, `received-fd#N` or a literal number.
    public static func describe(_ ref: FdRef) -> String {
        switch ref {
        case let .created(i): return "created#\(i)"
        case let .received(i): return "received-fd#\(i)"
        case let .literal(n): return "\(n)"
        }
    }

    public static func command(name c: Command) -> String {
        switch c {
        case let .transaction(t): return t.isOneway ? "BC_TRANSACTION(oneway)" : "BC_TRANSACTION"
        case .reply: return "BC_REPLY"
        case .freeBuffer: return "BC_FREE_BUFFER"
        case .increfs: return "BC_INCREFS"
        case .acquire: return "BC_ACQUIRE"
        case .release: return "BC_RELEASE"
        case .decrefs: return "BC_DECREFS"
        case .increfsDone: return "BC_INCREFS_DONE"
        case .acquireDone: return "BC_ACQUIRE_DONE"
        case .registerLooper: return "BC_REGISTER_LOOPER"
        case .enterLooper: return "BC_ENTER_LOOPER"
        case .exitLooper: return "BC_EXIT_LOOPER"
        case .requestDeathNotification: return "BC_REQUEST_DEATH_NOTIFICATION"
        case .clearDeathNotification: return "BC_CLEAR_DEATH_NOTIFICATION"
        case .deadBinderDone: return "BC_DEAD_BINDER_DONE"
        case .requestFreezeNotification: return "BC_REQUEST_FREEZE_NOTIFICATION"
        case .clearFreezeNotification: return "BC_CLEAR_FREEZE_NOTIFICATION"
        case .freezeNotificationDone: return "BC_FREEZE_NOTIFICATION_DONE"
        case .raw: return "raw"
        }
    }

    static func pointer(_ name: String, _ p: PointerSpec) -> String {
        p == .valid ? "" : " \(name)=\(p == .null ? "NULL" : "unmapped")"
    }

    public static func describe(_ action: Action) -> String {
        switch action {
        case .open: return "open"
        case .openBlocking: return "open blocking"
        case let .poll(blocking): return blocking ? "poll blocking" : "poll"
        case let .signal(restart): return restart ? "signal restart" : "signal"
        case .flushDuplicate: return "dup-close"
        case .exit: return "exit"
        case let .sleep(ms): return "sleep \(ms)"
        case let .mmap(pages, prot): return "mmap pages=\(pages) prot=\(hex(prot))"
        case .munmap: return "munmap"
        case .close: return "close"
        case let .newFile(kind): return "file \(kind == .pipe ? "pipe" : "memfd")"
        case let .closeFd(ref): return "close-fd \(describe(ref))"
        case let .checkFd(ref): return "check-fd \(describe(ref))"
        case let .fdLimit(n): return "fd-limit \(n)"
        case .version: return "ioctl BINDER_VERSION"
        case let .setMaxThreads(n): return "ioctl BINDER_SET_MAX_THREADS \(n)"
        case .setContextManager: return "ioctl BINDER_SET_CONTEXT_MGR"
        case let .setContextManagerExt(p, c, f): return "ioctl BINDER_SET_CONTEXT_MGR_EXT ptr=\(hex(p)) cookie=\(hex(c)) flags=\(hex(f))"
        case .threadExit: return "ioctl BINDER_THREAD_EXIT"
        case let .enableOnewaySpamDetection(v): return "ioctl BINDER_ENABLE_ONEWAY_SPAM_DETECTION \(v)"
        case .getExtendedError: return "ioctl BINDER_GET_EXTENDED_ERROR"
        case let .nodeDebugInfo(p): return "ioctl BINDER_GET_NODE_DEBUG_INFO ptr=\(hex(p))"
        case let .nodeInfoForRef(h): return "ioctl BINDER_GET_NODE_INFO_FOR_REF handle=\(h)"
        case let .freeze(t, e, ms): return "ioctl BINDER_FREEZE P\(t) enable=\(e)" + (ms == 0 ? "" : " timeout_ms=\(ms)")
        case let .frozenInfo(t): return "ioctl BINDER_GET_FROZEN_INFO P\(t)"
        case let .rawIoctl(c, arg, p):
            return "ioctl \(BinderIoctl(rawValue: c)) arg=[\(arg.map { String(format2: $0) }.joined())]" + pointer("ptr", p)
        case let .writeRead(wr):
            var s = "write-read"
            if wr.readSize > 0 { s += " read=\(wr.readSize)" }
            if wr.readConsumed > 0 { s += " read_consumed=\(wr.readConsumed)" }
            if wr.writeConsumed > 0 { s += " write_consumed=\(wr.writeConsumed)" }
            if wr.writeSizeAdjust != 0 { s += " write_size\(wr.writeSizeAdjust > 0 ? "+" : "")\(wr.writeSizeAdjust)" }
            s += pointer("write_buffer", wr.writePointer) + pointer("read_buffer", wr.readPointer) + pointer("bwr", wr.structPointer)
            if !wr.commands.isEmpty { s += " { " + wr.commands.map(describe).joined(separator: "; ") + " }" }
            return s
        }
    }

    public static func describe(_ c: Command) -> String {
        switch c {
        case let .transaction(t): return describe(t, reply: false)
        case let .reply(t): return describe(t, reply: true)
        case let .freeBuffer(ref):
            switch ref {
            case let .received(i): return "BC_FREE_BUFFER received#\(i)"
            case let .mappingOffset(o): return "BC_FREE_BUFFER base+\(hex(o))"
            case let .literal(a): return "BC_FREE_BUFFER \(hex(a))"
            }
        case let .increfs(h): return "BC_INCREFS \(h)"
        case let .acquire(h): return "BC_ACQUIRE \(h)"
        case let .release(h): return "BC_RELEASE \(h)"
        case let .decrefs(h): return "BC_DECREFS \(h)"
        case let .increfsDone(p, k): return "BC_INCREFS_DONE ptr=\(hex(p)) cookie=\(hex(k))"
        case let .acquireDone(p, k): return "BC_ACQUIRE_DONE ptr=\(hex(p)) cookie=\(hex(k))"
        case let .requestDeathNotification(h, k): return "BC_REQUEST_DEATH_NOTIFICATION handle=\(h) cookie=\(hex(k))"
        case let .clearDeathNotification(h, k): return "BC_CLEAR_DEATH_NOTIFICATION handle=\(h) cookie=\(hex(k))"
        case let .deadBinderDone(k): return "BC_DEAD_BINDER_DONE cookie=\(hex(k))"
        case let .requestFreezeNotification(h, k): return "BC_REQUEST_FREEZE_NOTIFICATION handle=\(h) cookie=\(hex(k))"
        case let .clearFreezeNotification(h, k): return "BC_CLEAR_FREEZE_NOTIFICATION handle=\(h) cookie=\(hex(k))"
        case let .freezeNotificationDone(k): return "BC_FREEZE_NOTIFICATION_DONE cookie=\(hex(k))"
        case let .raw(b): return "raw[\(b.map { String(format2: $0) }.joined())]"
        default: return command(name: c)
        }
    }

    static func describe(_ t: Transaction, reply: Bool) -> String {
        var s = reply ? "BC_REPLY" : "BC_TRANSACTION"
        if t.buffersSize != nil { s += "_SG" }
        if !reply || t.handle != 0 { s += " handle=\(t.handle)" }  // a reply's handle is ignored
        s += " code=\(hex(t.code)) flags=\(hex(t.flags))"
        if let b = t.buffersSize { s += " buffers_size=\(b)" }
        let p = t.payload
        var parts: [String] = []
        for o in p.objects {
            if o.gap > 0 { parts.append("gap \(o.gap)") }
            switch o.kind {
            case let .binder(ptr, cookie, flags, weak):
                parts.append("\(weak ? "WEAK_BINDER" : "BINDER") ptr=\(hex(ptr)) cookie=\(hex(cookie))" + (flags != 0 ? " flags=\(hex(flags))" : ""))
            case let .handle(h, flags, weak):
                parts.append("\(weak ? "WEAK_HANDLE" : "HANDLE") \(h)" + (flags != 0 ? " flags=\(hex(flags))" : ""))
            case let .fd(ref): parts.append("FD \(describe(ref))")
            case let .ptr(len, flags, parent, off): parts.append("PTR len=\(len) flags=\(hex(flags)) parent=\(parent) parent_offset=\(off)")
            case let .fda(n, parent, off, fds):
                parts.append("FDA n=\(n) parent=\(parent) parent_offset=\(off)"
                             + (fds.isEmpty ? "" : " fds=[" + fds.map(describe).joined(separator: " ") + "]"))
            case let .raw(b): parts.append("raw[\(b.map { String(format2: $0) }.joined())]")
            }
        }
        if p.trailing > 0 { parts.append("trailing \(p.trailing)") }
        s += " data=[" + parts.joined(separator: ", ") + "]"
        if let o = p.offsetsOverride { s += " offsets=\(o)" }
        if p.dataSizeAdjust != 0 { s += " data_size\(p.dataSizeAdjust > 0 ? "+" : "")\(p.dataSizeAdjust)" }
        if p.offsetsSizeAdjust != 0 { s += " offsets_size\(p.offsetsSizeAdjust > 0 ? "+" : "")\(p.offsetsSizeAdjust)" }
        s += pointer("data", t.dataPointer) + pointer("offsets", t.offsetsPointer)
        return s
    }
}

func padIndex(_ index: Int) -> String {
    let s = String(index)
    return String(repeating: " ", count: max(0, 4 - s.count)) + s
}
