#if os(Linux)
import BinderHarness
import BinderUAPI

/// Where two traces of the same scenario first differ, and a signature for clustering.
///
/// The signature names *where* the step diverged and *what* differs, without volatile values
/// (offsets, handles, data bytes), so that one root cause gives one class and shrinking keeps it:
/// - the locus: the ioctl, or for BINDER_WRITE_READ the BC command at which the two sides stop
///   consuming the write buffer, or `read` when both consumed the same commands;
/// - `new thread` when the step is the thread's first ioctl on the fd (since open or
///   BINDER_THREAD_EXIT), because a new `binder_thread` reads differently;
/// - the first differing field: return value, write_consumed, the first differing BR item (by
///   code, or by the payload fields that differ), read_consumed, or the output words.
public struct TraceDifference {
    public var stepIndex: Int
    public var signature: String
    public var left: StepOutcome
    public var right: StepOutcome

    /// The first differing step of two complete traces, or nil when they agree. Steps from the
    /// first scheduling-dependent one on (per the model) are not compared.
    public static func between(_ scenario: Scenario, _ a: [StepOutcome], _ b: [StepOutcome]) -> TraceDifference? {
        let end = min(a.count, b.count, scenario.steps.count)
        let comparable = a == b ? end : min(end, KernelOracle.modelTrace(scenario).firstSchedulingDependentStep ?? end)
        for i in 0..<comparable where a[i] != b[i] {
            let sig = signature(scenario.steps[i], a[i], b[i], newThread: isThreadsFirstIoctl(scenario, i, a))
            return TraceDifference(stepIndex: i, signature: sig, left: a[i], right: b[i])
        }
        return nil
    }

    /// True when step `index` is its thread's first ioctl on the process's binder fd: no earlier
    /// step of the same process and thread ran an ioctl since the last open or thread exit.
    /// `outcomes` tells which earlier steps were skipped.
    public static func isThreadsFirstIoctl(_ scenario: Scenario, _ index: Int, _ outcomes: [StepOutcome]) -> Bool {
        let step = scenario.steps[index]
        guard step.action.isIoctl else { return false }
        for j in stride(from: index - 1, through: 0, by: -1) {
            let s = scenario.steps[j]
            guard s.process == step.process else { continue }
            if j < outcomes.count, outcomes[j].skipped != nil { continue }
            switch s.action {
            case .open, .openBlocking, .close, .exit: return true
            case .threadExit where s.thread == step.thread: return true
            default:
                if s.thread == step.thread, s.action.isIoctl { return false }
            }
        }
        return true
    }

    static func signature(_ step: Step, _ a: StepOutcome, _ b: StepOutcome, newThread: Bool) -> String {
        let where_ = locus(step, a, b) + (newThread ? " (new thread)" : "")
        return "\(where_): \(field(a, b))"
    }

    /// The operation, or for a write-read the command where the two sides part.
    static func locus(_ step: Step, _ a: StepOutcome, _ b: StepOutcome) -> String {
        guard case let .writeRead(wr) = step.action else { return ScenarioText.actionName(step.action) }
        let bounds = wr.commandBoundaries
        let consumedA = Int(a.writeConsumed ?? 0), consumedB = Int(b.writeConsumed ?? 0)
        let stop = consumedA == consumedB && a.result == b.result ? bounds.last! : min(consumedA, consumedB)
        if let k = bounds.dropLast().lastIndex(where: { $0 <= stop }), stop < bounds.last! {
            return "write-read " + ScenarioText.command(name: wr.commands[k])
        }
        return wr.readSize > 0 ? "write-read read" : "write-read end"
    }

    /// The first field that differs, named without its values (errnos excepted).
    static func field(_ a: StepOutcome, _ b: StepOutcome) -> String {
        func ret(_ o: StepOutcome) -> String {
            o.skipped != nil ? "skipped" : o.parked ? "parked" : Errno.describe(o.result ?? 0)
        }
        if ret(a) != ret(b) { return "return \(ret(a)) vs \(ret(b))" }
        if a.writeConsumed != b.writeConsumed { return "write_consumed differs" }
        for k in 0..<max(a.returns.count, b.returns.count) {
            let x = k < a.returns.count ? a.returns[k] : nil, y = k < b.returns.count ? b.returns[k] : nil
            if x == y { continue }
            let nx = x.map(\.codeName) ?? "(end)", ny = y.map(\.codeName) ?? "(end)"
            if nx != ny { return "\(nx) vs \(ny)" }
            return "\(nx) \(payloadFields(x!, y!).joined(separator: ",")) differ"
        }
        if a.readConsumed != b.readConsumed { return "read_consumed differs" }
        if a.output != b.output {
            let words = (0..<(max(a.output.count, b.output.count) + 3) / 4).filter { w in
                let r = (w * 4)..<(w * 4 + 4)
                return Array(a.output[clamped(r, a.output.count)]) != Array(b.output[clamped(r, b.output.count)])
            }
            return "output words " + words.map(String.init).joined(separator: ",") + " differ"
        }
        // Threads a step woke: the first that differs (a thread's index is not part of the
        // signature, its call is).
        for k in 0..<max(a.completions.count, b.completions.count) {
            let x = k < a.completions.count ? a.completions[k] : nil, y = k < b.completions.count ? b.completions[k] : nil
            if x == y { continue }
            guard let x, let y, x.process == y.process, x.thread == y.thread else {
                return "woke " + (x.map { _ in "a thread" } ?? "none") + " vs " + (y.map { _ in "a thread" } ?? "none")
            }
            return "woken thread: " + field(x.outcome, y.outcome)
        }
        return "differs"
    }

    static func clamped(_ r: Range<Int>, _ n: Int) -> Range<Int> { min(r.lowerBound, n)..<min(r.upperBound, n) }

    /// Names of the payload fields that differ between two returns with the same code.
    static func payloadFields(_ x: DecodedReturn, _ y: DecodedReturn) -> [String] {
        switch (x, y) {
        case let (.transaction(_, s), .transaction(_, t)):
            var f: [String] = []
            if s.targetPtr != t.targetPtr { f.append("target.ptr") }
            if s.cookie != t.cookie { f.append("cookie") }
            if s.code != t.code { f.append("code") }
            if s.flags != t.flags { f.append("flags") }
            if s.senderProcess != t.senderProcess { f.append("sender_pid") }
            if s.senderEUID != t.senderEUID { f.append("sender_euid") }
            if s.dataSize != t.dataSize { f.append("data_size") }
            if s.offsetsSize != t.offsetsSize { f.append("offsets_size") }
            if s.buffer != t.buffer { f.append("data.ptr.buffer") }
            if s.offsets != t.offsets { f.append("data.ptr.offsets") }
            if s.securityContext != t.securityContext { f.append("secctx") }
            if s.data != t.data { f.append("data") }
            if s.offsetsArray != t.offsetsArray { f.append("offsets[]") }
            return f.isEmpty ? ["payload"] : f
        case let (.ptrCookie(_, p, c), .ptrCookie(_, q, d)):
            return (p != q ? ["ptr"] : []) + (c != d ? ["cookie"] : [])
        case let (.frozenBinder(c, f, r), .frozenBinder(d, g, s)):
            return (c != d ? ["cookie"] : []) + (f != g ? ["is_frozen"] : []) + (r != s ? ["reserved"] : [])
        default:
            return ["payload"]
        }
    }
}

extension Action {
    /// Everything but the file and process events, poll, signals and sleep is an ioctl on the
    /// binder fd.
    var isIoctl: Bool {
        switch self {
        case .open, .openBlocking, .mmap, .munmap, .close, .poll, .signal, .flushDuplicate, .exit, .sleep: return false
        default: return true
        }
    }
}
#endif
