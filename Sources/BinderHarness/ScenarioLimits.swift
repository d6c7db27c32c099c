import BinderUAPI

/// The sizes a scenario may have: what the wire format stores and what the runner can place in
/// a process's scratch memory. A scenario within the limits round-trips through the wire format
/// and the text form and runs exactly as written; `check` names the first limit a scenario
/// exceeds. Decoding raw bytes stays total: it clamps to these limits (`ByteReader`), and a
/// version-1 file decodes with the version-1 limits.
public struct ScenarioLimits: Sendable {
    /// BC commands in one write buffer.
    public var commandsPerWrite: Int
    /// Objects in one transaction payload, and entries of an offsets override.
    public var objectsPerPayload: Int
    /// Filler bytes before an object (`gap`) or after the last one (`trailing`), and the length
    /// of a BINDER_TYPE_PTR blob.
    public var fillerBytes: Int
    /// Bytes of a raw command, and of a raw ioctl argument.
    public var rawCommandBytes: Int
    public var rawIoctlBytes: Int
    /// `read_size` of a BINDER_WRITE_READ (version 1 stored any value; the runner reads at most
    /// `WriteRead.maxReadSize`).
    public var readSize: UInt32

    /// Version 1 (what old files decode with).
    public static let version1 = ScenarioLimits(commandsPerWrite: 64, objectsPerPayload: 16, fillerBytes: 4096,
                                                rawCommandBytes: 256, rawIoctlBytes: 256, readSize: .max)
    /// Version 2 and later.
    public static let current = ScenarioLimits(commandsPerWrite: 1024, objectsPerPayload: 512, fillerBytes: 32768,
                                               rawCommandBytes: 4096, rawIoctlBytes: ScratchLayout.argumentCapacity,
                                               readSize: WriteRead.maxReadSize)

    /// A scenario over a limit: which limit, where, and by how much.
    public struct Violation: Error, CustomStringConvertible, Equatable {
        public var step: Int
        public var limit: String
        public var value: Int
        public var maximum: Int
        public var description: String { "step \(step): \(limit) is \(value), over the limit of \(maximum)" }
        public init(step: Int, limit: String, value: Int, maximum: Int) {
            self.step = step; self.limit = limit; self.value = value; self.maximum = maximum
        }
    }

    /// The first limit `scenario` exceeds, as an error.
    public func check(_ scenario: Scenario) throws(Violation) {
        for (i, step) in scenario.steps.enumerated() {
            func limit(_ name: String, _ value: Int, _ maximum: Int) throws(Violation) {
                if value > maximum { throw Violation(step: i, limit: name, value: value, maximum: maximum) }
            }
            if step.process >= Scenario.maxProcesses { try limit("process index", step.process, Scenario.maxProcesses - 1) }
            if step.thread >= Scenario.maxThreads { try limit("thread index", step.thread, Scenario.maxThreads - 1) }
            switch step.action {
            case let .rawIoctl(_, argument, _):
                try limit("raw ioctl argument bytes", argument.count, rawIoctlBytes)
            case let .writeRead(wr):
                try limit("commands per write", wr.commands.count, commandsPerWrite)
                try limit("read_size", Int(wr.readSize), Int(readSize))
                for c in wr.commands {
                    switch c {
                    case let .raw(bytes): try limit("raw command bytes", bytes.count, rawCommandBytes)
                    case let .transaction(t), let .reply(t): try check(t, limit)
                    default: break
                    }
                }
                var encoder = CommandEncoder()
                encoder.encode(wr.commands) { _ in 0 }
                try limit("write buffer bytes", encoder.writeBytes.count, ScratchLayout.writeCapacity)
                try limit("payload bytes in scratch", encoder.payloadBytes, ScratchLayout.payloadCapacity)
            case let .fdLimit(n):
                try limit("fd-limit", Int(n), Int(FdRules.maxLimit))
            default: break
            }
        }
    }

    private func check(_ t: Transaction, _ limit: (String, Int, Int) throws(Violation) -> Void) throws(Violation) {
        try limit("objects per payload", t.payload.objects.count, objectsPerPayload)
        try limit("offsets override entries", t.payload.offsetsOverride?.count ?? 0, objectsPerPayload)
        try limit("trailing filler bytes", Int(t.payload.trailing), fillerBytes)
        for o in t.payload.objects {
            try limit("gap filler bytes", Int(o.gap), fillerBytes)
            switch o.kind {
            case let .ptr(length, _, _, _): try limit("PTR blob bytes", Int(length), fillerBytes)
            case let .raw(bytes): try limit("raw object bytes", bytes.count, 24)
            case let .fda(_, _, _, fds): try limit("FDA fds", fds.count, objectsPerPayload)
            default: break
            }
        }
    }
}
