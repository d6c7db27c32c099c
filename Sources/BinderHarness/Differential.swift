import BinderUAPI

/// The first point where two backends disagree, or where one breaks an invariant.
public struct Divergence: Equatable, Sendable {
    public enum Kind: Equatable, Sendable {
        /// The normalized outcomes differ.
        case outcome
        /// A backend's own invariant check failed.
        case invariant(backend: String, message: String)
        /// The backends copied a different number of payload bytes.
        case copyCount(left: UInt64, right: UInt64)
    }

    public var stepIndex: Int
    public var step: Step
    public var kind: Kind
    public var leftName: String
    public var rightName: String
    public var left: StepOutcome
    public var right: StepOutcome

    public init(stepIndex: Int, step: Step, kind: Kind, leftName: String, rightName: String, left: StepOutcome, right: StepOutcome) {
        self.stepIndex = stepIndex; self.step = step; self.kind = kind
        self.leftName = leftName; self.rightName = rightName; self.left = left; self.right = right
    }

    /// A short, stable description used to decide whether a shrunk scenario still fails the same way.
    public var signature: String {
        switch kind {
        case .outcome: return "outcome:\(ScenarioText.actionName(step.action))"
        case let .invariant(b, m): return "invariant:\(b):\(m.prefix(40))"
        case .copyCount: return "copy-count"
        }
    }

    /// The divergence, with both sides' returns and decoded BR streams side by side.
    public func report(_ scenario: Scenario) -> String {
        var lines: [String] = []
        lines.append("DIVERGENCE at step \(stepIndex) of \(scenario.steps.count): \(ScenarioText.describe(step))")
        switch kind {
        case .outcome: lines.append("kind: outcomes differ")
        case let .invariant(b, m): lines.append("kind: invariant broken on \(b): \(m)")
        case let .copyCount(l, r): lines.append("kind: copied payload bytes differ: \(leftName)=\(l) \(rightName)=\(r)")
        }
        lines.append(contentsOf: Divergence.sideBySide(leftName, left, rightName, right))
        return lines.joined(separator: "\n")
    }

    static func sideBySide(_ ln: String, _ l: StepOutcome, _ rn: String, _ r: StepOutcome) -> [String] {
        func column(_ o: StepOutcome, indent: String = "") -> [String] {
            if let s = o.skipped { return [indent + "skipped (\(s))"] }
            var c = [o.parked ? "parked" : "return \(Errno.describe(o.result ?? 0))"]
            if let w = o.writeConsumed { c.append("write_consumed \(w)") }
            if let rc = o.readConsumed { c.append("read_consumed \(rc)") }
            if !o.output.isEmpty { c.append("output \(o.output.map { String(format2: $0) }.joined())") }
            c += o.returns.map { "  " + $0.description }
            c = c.map { indent + $0 }
            for w in o.completions {
                c.append(indent + "woke P\(w.process).T\(w.thread):")
                c += column(w.outcome, indent: indent + "  ")
            }
            return c
        }
        let a = column(l), b = column(r)
        let width = max(40, min(100, (a.map(\.count).max() ?? 0) + 2))
        func pad(_ s: String) -> String { s.count >= width ? s : s + String(repeating: " ", count: width - s.count) }
        var out = [pad(ln) + " | " + rn, String(repeating: "-", count: width) + "-+-" + String(repeating: "-", count: 40)]
        for i in 0..<max(a.count, b.count) {
            let x = i < a.count ? a[i] : "", y = i < b.count ? b[i] : ""
            let mark = x == y ? " " : "*"
            out.append(pad(x) + " |" + mark + y)
        }
        return out
    }
}

/// Runs a scenario on two backends in lockstep and checks, after every step, that the outcomes
/// agree, that both backends' invariants hold and that both copied the same payload bytes.
public struct DifferentialRun {
    public var divergence: Divergence?
    /// Outcomes of the left backend up to and including the last step run.
    public var leftOutcomes: [StepOutcome]
    public var rightOutcomes: [StepOutcome]

    public init(_ scenario: Scenario, left: BinderBackend, right: BinderBackend, checkInvariants: Bool = true) {
        let a = ScenarioRunner(backend: left, processCount: scenario.processCount)
        let b = ScenarioRunner(backend: right, processCount: scenario.processCount)
        leftOutcomes = []
        rightOutcomes = []
        for (i, step) in scenario.steps.enumerated() {
            let x = a.run(step), y = b.run(step)
            leftOutcomes.append(x)
            rightOutcomes.append(y)
            func diverge(_ kind: Divergence.Kind) -> Divergence {
                Divergence(stepIndex: i, step: step, kind: kind, leftName: left.backendName, rightName: right.backendName,
                           left: x, right: y)
            }
            if x != y { divergence = diverge(.outcome); return }
            if checkInvariants {
                if let m = left.checkInvariants() { divergence = diverge(.invariant(backend: left.backendName, message: m)); return }
                if let m = right.checkInvariants() { divergence = diverge(.invariant(backend: right.backendName, message: m)); return }
            }
            if left.copiedBytes != right.copiedBytes {
                divergence = diverge(.copyCount(left: left.copiedBytes, right: right.copiedBytes)); return
            }
        }
    }
}
