import BinderUAPI

/// Reads the text form that `ScenarioText.render` writes (as printed by `explain` and in the
/// comparison reports) back into a scenario, so a reproducer can be written or edited by hand.
/// Outcome lines (`->`, `both:`, `left:`…) and other comment lines are skipped; a leading step
/// index and a `*` marker are optional.
public enum ScenarioTextParser {
    public struct ParseError: Error, CustomStringConvertible {
        public var line: Int
        public var message: String
        public var description: String { "line \(line): \(message)" }
    }

    public static func parse(_ text: String) throws -> Scenario {
        var processCount: Int?
        var steps: [Step] = []
        for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingSpaces
            if line.isEmpty { continue }
            if line.hasPrefix("#") {
                if line.hasPrefix("# binder scenario v") { processCount = try header(line, line: n + 1) }
                continue
            }
            do {
                guard let step = try stepLine(line) else { continue }
                steps.append(step)
            } catch let e as Failure {
                throw ParseError(line: n + 1, message: e.message)
            }
        }
        // A freeze may name a process beyond the count (the runner maps it); steps may not.
        let needed = (steps.map(\.process).max() ?? 0) + 1
        let count = processCount ?? needed
        guard count >= needed, count <= Scenario.maxProcesses else {
            throw ParseError(line: 1, message: "process count \(count) does not cover P\(needed - 1) (at most \(Scenario.maxProcesses))")
        }
        return Scenario(processCount: count, steps: steps)
    }

    struct Failure: Error { var message: String }

    static func header(_ line: String, line n: Int) throws -> Int {
        // "# binder scenario v1, 4 processes, 10 steps"
        let parts = line.split(separator: ",").map { String($0).trimmingSpaces }
        guard let version = UInt8(parts[0].dropFirst("# binder scenario v".count)), version <= WireFormat.currentVersion else {
            throw ParseError(line: n, message: "unknown text version in \"\(line)\"")
        }
        guard parts.count > 1, let p = Int(parts[1].split(separator: " ")[0]) else {
            throw ParseError(line: n, message: "no process count in \"\(line)\"")
        }
        return p
    }

    /// One step line, or nil for an outcome line.
    static func stepLine(_ line: String) throws -> Step? {
        var s = Scanner(line)
        s.skip("*")
        s.skipSpaces()
        _ = s.number()
        s.skipSpaces()
        guard s.peek("P") else { return nil }
        s.skip("P")
        guard let p = s.number(), s.skip(".T"), let t = s.number() else { throw Failure(message: "expected P<n>.T<n> in \"\(line)\"") }
        guard p < Scenario.maxProcesses, t < Scenario.maxThreads else { throw Failure(message: "P\(p).T\(t) out of range") }
        let action = try parseAction(s.rest.trimmingSpaces)
        return Step(p, t, action)
    }

    static func parseAction(_ text: String) throws -> Action {
        var s = Scanner(text)
        let word = s.word()
        switch word {
        case "open":
            let rest = s.rest.trimmingSpaces
            if rest == "blocking" { return .openBlocking }
            guard rest.isEmpty else { throw Failure(message: "unknown open flag \"\(rest)\"") }
            return .open
        case "poll", "signal":
            let rest = s.rest.trimmingSpaces
            let flag = word == "poll" ? "blocking" : "restart"
            guard rest.isEmpty || rest == flag else { throw Failure(message: "unknown \(word) flag \"\(rest)\"") }
            return word == "poll" ? .poll(blocking: !rest.isEmpty) : .signal(restart: !rest.isEmpty)
        case "dup-close": return .flushDuplicate
        case "sleep": return .sleep(milliseconds: try number(s.rest.trimmingSpaces))
        case "exit": return .exit
        case "munmap": return .munmap
        case "close": return .close
        case "file":
            switch s.rest.trimmingSpaces {
            case "pipe": return .newFile(.pipe)
            case "memfd": return .newFile(.memfd)
            case let other: throw Failure(message: "unknown file kind \"\(other)\" (pipe or memfd)")
            }
        case "close-fd": return .closeFd(try fdRef(s.rest.trimmingSpaces))
        case "check-fd": return .checkFd(try fdRef(s.rest.trimmingSpaces))
        case "fd-limit": return .fdLimit(try number(s.rest.trimmingSpaces))
        case "mmap":
            let f = try fields(s.rest)
            return .mmap(pages: try f.u32("pages"), prot: try f.u32("prot"))
        case "write-read": return .writeRead(try writeRead(s.rest))
        case "ioctl": return try ioctl(s.rest.trimmingSpaces)
        default: throw Failure(message: "unknown step \"\(text)\"")
        }
    }

    static func ioctl(_ text: String) throws -> Action {
        var s = Scanner(text)
        let name = s.word()
        let rest = s.rest.trimmingSpaces
        if rest.hasPrefix("arg=[") {
            // rawIoctl: "<name or ioctl(0x..)> arg=[hex]" and an optional " ptr=NULL|unmapped".
            let command: UInt32
            if name.hasPrefix("ioctl(") {
                command = try number(String(name.dropFirst(6).dropLast()))
            } else if let c = BinderIoctl.all.first(where: { $0.0 == name }) {
                command = c.1.rawValue
            } else { throw Failure(message: "unknown ioctl \(name)") }
            var r = Scanner(rest)
            r.skip("arg=")
            let bytes = try hexBytes(r.bracketed())
            let f = try fields(r.rest)
            return .rawIoctl(command: command, argument: bytes, pointer: try f.pointer("ptr"))
        }
        switch name {
        case "BINDER_VERSION": return .version
        case "BINDER_SET_MAX_THREADS": return .setMaxThreads(try number(rest))
        case "BINDER_SET_CONTEXT_MGR": return .setContextManager
        case "BINDER_SET_CONTEXT_MGR_EXT":
            let f = try fields(rest)
            return .setContextManagerExt(ptr: try f.u64("ptr"), cookie: try f.u64("cookie"), flags: try f.u32("flags"))
        case "BINDER_THREAD_EXIT": return .threadExit
        case "BINDER_ENABLE_ONEWAY_SPAM_DETECTION": return .enableOnewaySpamDetection(try number(rest))
        case "BINDER_GET_EXTENDED_ERROR": return .getExtendedError
        case "BINDER_GET_NODE_DEBUG_INFO": return .nodeDebugInfo(ptr: try fields(rest).u64("ptr"))
        case "BINDER_GET_NODE_INFO_FOR_REF": return .nodeInfoForRef(handle: try fields(rest).u32("handle"))
        case "BINDER_FREEZE":
            var r = Scanner(rest)
            let target = try processName(r.word())
            let f = try fields(r.rest)
            return .freeze(target: target, enable: try f.u32("enable"), timeoutMs: try f.u32("timeout_ms", or: 0))
        case "BINDER_GET_FROZEN_INFO": return .frozenInfo(target: try processName(rest))
        default: throw Failure(message: "unknown ioctl step \"\(text)\"")
        }
    }

    static func processName(_ word: String) throws -> Int {
        // Any index: the generator also names processes that do not exist.
        guard word.hasPrefix("P"), let n = Int(word.dropFirst()), n >= 0, n <= Int(UInt8.max) else {
            throw Failure(message: "expected a process P<n>, got \"\(word)\"")
        }
        return n
    }

    static func writeRead(_ text: String) throws -> WriteRead {
        var head = text.trimmingSpaces
        var commands: [Command] = []
        if let open = head.firstRange(of: "{") {
            guard head.hasSuffix("}") else { throw Failure(message: "unclosed command list in \"\(text)\"") }
            let body = String(head[open.upperBound..<head.index(before: head.endIndex)]).trimmingSpaces
            commands = try body.isEmpty ? [] : body.split(separator: "; ").map { try command($0.trimmingSpaces) }
            head = String(head[..<open.lowerBound])
        }
        let f = try fields(head)
        var wr = WriteRead(commands: commands, readSize: try f.u32("read", or: 0), writeConsumed: try f.u32("write_consumed", or: 0),
                           readConsumed: try f.u32("read_consumed", or: 0), writePointer: try f.pointer("write_buffer"),
                           readPointer: try f.pointer("read_buffer"), structPointer: try f.pointer("bwr"))
        wr.writeSizeAdjust = f.adjust("write_size")
        return wr
    }

    static func command(_ text: String) throws -> Command {
        var s = Scanner(text)
        let name = s.word()
        let rest = s.rest.trimmingSpaces
        func handle() throws -> UInt32 { try number(rest) }
        func pair() throws -> (UInt64, UInt64) { let f = try fields(rest); return (try f.u64("ptr"), try f.u64("cookie")) }
        func handleCookie() throws -> (UInt32, UInt64) { let f = try fields(rest); return (try f.u32("handle"), try f.u64("cookie")) }
        func cookie() throws -> UInt64 { try fields(rest).u64("cookie") }
        switch name {
        case "BC_TRANSACTION", "BC_TRANSACTION_SG": return .transaction(try transaction(rest, sg: name.hasSuffix("_SG"), reply: false))
        case "BC_REPLY", "BC_REPLY_SG": return .reply(try transaction(rest, sg: name.hasSuffix("_SG"), reply: true))
        case "BC_FREE_BUFFER":
            if rest.hasPrefix("received#") { return .freeBuffer(.received(index: try number(String(rest.dropFirst(9))))) }
            if rest.hasPrefix("base+") { return .freeBuffer(.mappingOffset(try number(String(rest.dropFirst(5))))) }
            return .freeBuffer(.literal(try number(rest)))
        case "BC_INCREFS": return .increfs(try handle())
        case "BC_ACQUIRE": return .acquire(try handle())
        case "BC_RELEASE": return .release(try handle())
        case "BC_DECREFS": return .decrefs(try handle())
        case "BC_INCREFS_DONE": let (p, c) = try pair(); return .increfsDone(ptr: p, cookie: c)
        case "BC_ACQUIRE_DONE": let (p, c) = try pair(); return .acquireDone(ptr: p, cookie: c)
        case "BC_REGISTER_LOOPER": return .registerLooper
        case "BC_ENTER_LOOPER": return .enterLooper
        case "BC_EXIT_LOOPER": return .exitLooper
        case "BC_REQUEST_DEATH_NOTIFICATION": let (h, c) = try handleCookie(); return .requestDeathNotification(handle: h, cookie: c)
        case "BC_CLEAR_DEATH_NOTIFICATION": let (h, c) = try handleCookie(); return .clearDeathNotification(handle: h, cookie: c)
        case "BC_DEAD_BINDER_DONE": return .deadBinderDone(cookie: try cookie())
        case "BC_REQUEST_FREEZE_NOTIFICATION": let (h, c) = try handleCookie(); return .requestFreezeNotification(handle: h, cookie: c)
        case "BC_CLEAR_FREEZE_NOTIFICATION": let (h, c) = try handleCookie(); return .clearFreezeNotification(handle: h, cookie: c)
        case "BC_FREEZE_NOTIFICATION_DONE": return .freezeNotificationDone(cookie: try cookie())
        default:
            if text.hasPrefix("raw[") { var r = Scanner(text); r.skip("raw"); return .raw(try hexBytes(r.bracketed())) }
            throw Failure(message: "unknown command \"\(text)\"")
        }
    }

    static func transaction(_ text: String, sg: Bool, reply: Bool) throws -> Transaction {
        // "[handle=H] code=C flags=F [buffers_size=B] data=[...] [offsets=[...]] [data_size±N]
        //  [offsets_size±N] [data=NULL] [offsets=NULL]"
        guard let dataStart = text.firstRange(of: "data=[") else { throw Failure(message: "no data=[...] in \"\(text)\"") }
        var s = Scanner(String(text[dataStart.lowerBound...]))
        s.skip("data=")
        let data = try s.bracketed()
        var after = s.rest.trimmingSpaces
        var offsetsOverride: [UInt64]?
        if after.hasPrefix("offsets=[") {
            var o = Scanner(after)
            o.skip("offsets=")
            let list = try o.bracketed().trimmingSpaces
            offsetsOverride = try list.isEmpty ? [] : list.split(separator: ",").map { try number($0.trimmingSpaces) }
            after = o.rest
        }
        let f = try fields(String(text[..<dataStart.lowerBound]) + " " + after)
        var payload = try self.payload(data)
        payload.offsetsOverride = offsetsOverride
        payload.dataSizeAdjust = f.adjust("data_size")
        payload.offsetsSizeAdjust = f.adjust("offsets_size")
        return Transaction(handle: reply ? try f.u32("handle", or: 0) : try f.u32("handle"), code: try f.u32("code"), flags: try f.u32("flags"),
                           payload: payload, buffersSize: sg ? try f.u64("buffers_size") : nil,
                           dataPointer: try f.pointer("data"), offsetsPointer: try f.pointer("offsets"))
    }

    static func payload(_ text: String) throws -> Payload {
        var p = Payload()
        var gap: UInt32 = 0
        for part in text.split(separator: ", ").map({ $0.trimmingSpaces }) where !part.isEmpty {
            var s = Scanner(part)
            let kind = s.word()
            let rest = s.rest.trimmingSpaces
            var f: Fields { get throws { try fields(rest) } }
            let object: ObjectKind
            switch kind {
            case "gap": gap = try number(rest); continue
            case "trailing": p.trailing = try number(rest); continue
            case "BINDER", "WEAK_BINDER":
                object = .binder(ptr: try f.u64("ptr"), cookie: try f.u64("cookie"), flags: try f.u32("flags", or: 0), weak: kind == "WEAK_BINDER")
            case "HANDLE", "WEAK_HANDLE":
                var h = Scanner(rest)
                object = .handle(try number(h.word()), flags: try fields(h.rest).u32("flags", or: 0), weak: kind == "WEAK_HANDLE")
            case "FD": object = .fd(try fdRef(rest))
            case "PTR":
                object = .ptr(length: try f.u32("len"), flags: try f.u32("flags"), parent: try f.u32("parent"), parentOffset: try f.u32("parent_offset"))
            case "FDA":
                // "n=.. parent=.. parent_offset=.. [fds=[ref ref ...]]"
                var head = rest, fds: [FdRef] = []
                let words = rest.split(separator: " ", omittingEmptySubsequences: true)
                if let k = words.firstIndex(where: { $0.hasPrefix("fds=[") }) {
                    guard rest.hasSuffix("]") else { throw Failure(message: "unterminated fds=[ in \"\(part)\"") }
                    head = words[..<k].joined(separator: " ")
                    let list = words[k...].joined(separator: " ").dropFirst(5).dropLast()
                    fds = try list.split(separator: " ").map { try fdRef(String($0)) }
                }
                let g = try fields(head)
                object = .fda(numFds: try g.u32("n"), parent: try g.u32("parent"), parentOffset: try g.u32("parent_offset"), fds: fds)
            default:
                guard part.hasPrefix("raw[") else { throw Failure(message: "unknown payload object \"\(part)\"") }
                var r = Scanner(part)
                r.skip("raw")
                object = .raw(try hexBytes(r.bracketed()))
            }
            p.objects.append(PayloadObject(gap: gap, object))
            gap = 0
        }
        guard gap == 0 else { throw Failure(message: "a gap with no object after it in \"\(text)\"") }
        return p
    }

    /// `created#N`, `received-fd#N` or a number.
    static func fdRef(_ text: String) throws -> FdRef {
        if text.hasPrefix("created#") { return .created(index: try number(String(text.dropFirst(8)))) }
        if text.hasPrefix("received-fd#") { return .received(index: try number(String(text.dropFirst(12)))) }
        return .literal(try number(text))
    }

    // MARK: fields and numbers

    /// `key=value` words and `key+N` / `key-N` adjustments.
    struct Fields {
        var values: [String: String] = [:]
        var adjustments: [String: Int32] = [:]

        func value(_ key: String) throws -> String {
            guard let v = values[key] else { throw Failure(message: "missing \(key)=") }
            return v
        }
        func u32(_ key: String) throws -> UInt32 { try number(try value(key)) }
        func u32(_ key: String, or fallback: UInt32) throws -> UInt32 { values[key] == nil ? fallback : try u32(key) }
        func u64(_ key: String) throws -> UInt64 { try number(try value(key)) }
        func adjust(_ key: String) -> Int32 { adjustments[key] ?? 0 }
        func pointer(_ key: String) throws -> PointerSpec {
            switch values[key] {
            case nil: return .valid
            case "NULL": return .null
            case "unmapped": return .unmapped
            case let v?: throw Failure(message: "\(key)=\(v) is not NULL or unmapped")
            }
        }
    }

    static func fields(_ text: String) throws -> Fields {
        var f = Fields()
        for word in text.split(separator: " ").map(String.init) where !word.isEmpty {
            if let eq = word.firstIndex(of: "=") {
                f.values[String(word[..<eq])] = String(word[word.index(after: eq)...])
            } else if let sign = word.firstIndex(where: { $0 == "+" || $0 == "-" }) {
                let magnitude: Int32 = try number(String(word[word.index(after: sign)...]))
                f.adjustments[String(word[..<sign])] = word[sign] == "+" ? magnitude : -magnitude
            } else {
                throw Failure(message: "unexpected \"\(word)\"")
            }
        }
        return f
    }

    /// A decimal or `0x` hexadecimal number that fits `T`.
    static func number<T: FixedWidthInteger>(_ text: String) throws -> T {
        let t = text.trimmingSpaces
        let v = t.hasPrefix("0x") ? T(t.dropFirst(2), radix: 16) : T(t, radix: 10)
        guard let v else { throw Failure(message: "\"\(text)\" is not a \(T.self)") }
        return v
    }

    static func hexBytes(_ text: String) throws -> [UInt8] {
        let digits = Array(text.utf8)
        guard digits.count % 2 == 0 else { throw Failure(message: "odd hex byte string \"\(text)\"") }
        return try stride(from: 0, to: digits.count, by: 2).map { i in
            guard let b = UInt8(String(decoding: digits[i..<i + 2], as: UTF8.self), radix: 16) else {
                throw Failure(message: "bad hex bytes \"\(text)\"")
            }
            return b
        }
    }

    /// A cursor over one line.
    struct Scanner {
        var chars: [Character]
        var i = 0
        init(_ s: String) { chars = Array(s) }

        var rest: String { String(chars[i...]) }
        func peek(_ p: String) -> Bool { rest.hasPrefix(p) }
        @discardableResult mutating func skip(_ p: String) -> Bool {
            guard peek(p) else { return false }
            i += p.count
            return true
        }
        mutating func skipSpaces() { while i < chars.count, chars[i] == " " { i += 1 } }
        mutating func number() -> Int? {
            let start = i
            while i < chars.count, chars[i].isASCII, chars[i].isNumber { i += 1 }
            return start == i ? nil : Int(String(chars[start..<i]))
        }
        /// The next space-delimited word.
        mutating func word() -> String {
            skipSpaces()
            let start = i
            while i < chars.count, chars[i] != " " { i += 1 }
            return String(chars[start..<i])
        }
        /// The text inside `[...]` at the cursor (nested brackets included).
        mutating func bracketed() throws -> String {
            guard skip("[") else { throw Failure(message: "expected [ in \"\(String(chars))\"") }
            let start = i
            var depth = 1
            while i < chars.count {
                if chars[i] == "[" { depth += 1 }
                if chars[i] == "]" { depth -= 1; if depth == 0 { break } }
                i += 1
            }
            guard i < chars.count else { throw Failure(message: "unclosed [ in \"\(String(chars))\"") }
            defer { i += 1 }
            return String(chars[start..<i])
        }
    }
}

extension StringProtocol {
    var trimmingSpaces: String {
        var s = Substring(self)
        while s.first == " " || s.first == "\t" || s.first == "\r" { s.removeFirst() }
        while s.last == " " || s.last == "\t" || s.last == "\r" { s.removeLast() }
        return String(s)
    }
}
