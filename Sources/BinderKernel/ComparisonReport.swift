#if os(Linux)
import BinderHarness
import BinderUAPI

/// Renders comparison results as Markdown (docs/RUST-VS-C-BINDER.md).
public enum ComparisonReport {
    public struct Section {
        public var title: String
        public var left: ComparisonSide
        public var right: ComparisonSide
        public var classes: [DivergenceClass]
        public var compared: Int
        public var missing: Int
        public var scenarioCounts: [String: Int]
        /// What the scenarios reached on each side (generator reach).
        public var leftReach = TraceReach()
        public var rightReach = TraceReach()
        /// Scenarios per minute of the first full run, per side that was run for this section.
        public var scenariosPerMinute: [(String, Int)] = []
        public init(title: String, left: ComparisonSide, right: ComparisonSide, classes: [DivergenceClass], compared: Int,
                    missing: Int, scenarioCounts: [String: Int]) {
            self.title = title; self.left = left; self.right = right; self.classes = classes
            self.compared = compared; self.missing = missing; self.scenarioCounts = scenarioCounts
        }
    }

    /// A stable key for a class, used to find its hand-written analysis.
    public static func key(_ signature: String) -> String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in signature.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        let s = String(h, radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }

    /// One line: what differs at the first divergent step.
    public static func statement(_ c: DivergenceClass, _ l: String, _ r: String) -> String {
        let d = c.difference
        let op = ScenarioText.describe(c.minimal.steps[min(d.stepIndex, c.minimal.steps.count - 1)].action)
        return statement(op: op, d.left, d.right, l, r)
    }

    /// What differs between two outcomes of the step `op`; a woken thread's outcome is
    /// described as its own statement.
    static func statement(op: String, _ left: StepOutcome, _ right: StepOutcome, _ l: String, _ r: String) -> String {
        let d = (left: left, right: right)
        func ret(_ o: StepOutcome) -> String {
            o.skipped != nil ? "skips" : o.parked ? "parks (sleeps in the driver)" : "returns \(Errno.describe(o.result ?? 0))"
        }
        if d.left.result != d.right.result || d.left.parked != d.right.parked {
            return "On `\(op)`, \(l) \(ret(d.left)) where \(r) \(ret(d.right))."
        }
        if d.left.writeConsumed != d.right.writeConsumed {
            return "On `\(op)`, both return \(Errno.describe(d.left.result ?? 0)) but write_consumed is \(d.left.writeConsumed ?? 0) on \(l) and \(d.right.writeConsumed ?? 0) on \(r)."
        }
        let a = d.left.returns, b = d.right.returns
        if a != b {
            let k = (0..<min(a.count, b.count)).first { a[$0] != b[$0] } ?? min(a.count, b.count)
            if k < a.count, k < b.count, a[k].codeName == b[k].codeName {
                let fields = TraceDifference.payloadFields(a[k], b[k]).joined(separator: ", ")
                return "On `\(op)`, the read's item \(k + 1) (\(a[k].codeName)) differs in \(fields): `\(a[k])` on \(l) but `\(b[k])` on \(r)."
            }
            let x = k < a.count ? a[k].description : "nothing", y = k < b.count ? b[k].description : "nothing"
            return "On `\(op)`, the read's item \(k + 1) is `\(x)` on \(l) but `\(y)` on \(r)."
        }
        if d.left.output != d.right.output { return "On `\(op)`, the ioctl writes back different bytes." }
        if d.left.completions != d.right.completions {
            let a = d.left.completions, b = d.right.completions
            let same = a.map { [$0.process, $0.thread] } == b.map { [$0.process, $0.thread] }
            guard same, let k = a.indices.first(where: { a[$0] != b[$0] }) else {
                func names(_ cs: [ThreadOutcome]) -> String { cs.isEmpty ? "no parked thread" : cs.map { "P\($0.process).T\($0.thread)" }.joined(separator: ", ") }
                return "On `\(op)`, \(l) wakes \(names(a)) where \(r) wakes \(names(b))."
            }
            let inner = statement(op: "the woken P\(a[k].process).T\(a[k].thread)'s call", a[k].outcome, b[k].outcome, l, r)
            return "On `\(op)`, a parked thread returns differently. " + inner
        }
        return "On `\(op)`, write_consumed/read_consumed differ (\(l): \(d.left.writeConsumed ?? 0)/\(d.left.readConsumed ?? 0), \(r): \(d.right.writeConsumed ?? 0)/\(d.right.readConsumed ?? 0))."
    }

    static func traces(_ c: DivergenceClass, _ l: String, _ r: String) -> String {
        var lines: [String] = []
        for (i, step) in c.minimal.steps.enumerated() {
            lines.append(padIndex(i) + "  " + ScenarioText.describe(step))
            let x = i < c.leftTrace.count ? c.leftTrace[i].description : "(none)"
            let y = i < c.rightTrace.count ? c.rightTrace[i].description : "(none)"
            if x == y {
                lines.append("        both:  \(x)")
            } else {
                lines.append("      * \(l): \(x)")
                lines.append("      * \(r): \(y)")
            }
        }
        return lines.joined(separator: "\n")
    }

    public static func render(header: String, sections: [Section], analyses: [String: String]) -> String {
        var out = [header, ""]
        for (index, s) in sections.enumerated() {
            let l = s.left.shortName, r = s.right.shortName
            out.append("## \(s.title)")
            out.append("")
            out.append("Sides: **\(s.left)** (left) and **\(s.right)** (right). Scenarios compared: \(s.compared)"
                + (s.missing > 0 ? " (\(s.missing) more did not produce a complete trace)" : "") + ".")
            if !s.scenarioCounts.isEmpty {
                out.append("By source: " + s.scenarioCounts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ") + ".")
            }
            if !s.scenariosPerMinute.isEmpty {
                out.append("Throughput of the full run: " + s.scenariosPerMinute.map { "\($0.0) \($0.1) scenarios/min" }.joined(separator: ", ") + ".")
            }
            out.append("Divergence classes: \(s.classes.count).")
            if s.classes.isEmpty {
                out.append("")
                out.append("No divergence: every step of every scenario gave the same outcome on both sides "
                    + "(return value, write/read consumed, every BR item with its payload, ioctl output bytes).")
            }
            out.append("")
            // A hand-written note for the whole comparison (e.g. version drift), `## section <title>`.
            out.append(analysisBlock(sectionKey(s.title), analyses, placeholder: ""))
            out.append("")
            if s.leftReach.scenarios > 0 { out.append(reach(s, l, r)) }
            for (n, c) in s.classes.enumerated() { out += classLines(n + 1, c, l, r, analyses, scope: scope(index, s)) }
        }
        return out.joined(separator: "\n")
    }

    /// BR codes a zero count is expected for, and why.
    static let unreachableReturns: [String: String] = [
        "BR_OK": "never sent by Linux", "BR_ACQUIRE_RESULT": "never sent by Linux",
        "BR_ATTEMPT_ACQUIRE": "never sent by Linux", "BR_FINISHED": "never sent by Linux",
        "BR_ERROR": "only on an allocation failure",
        "BR_TRANSACTION_SEC_CTX": "needs an LSM; the test kernels have none",
    ]

    /// The generator-reach table: step kinds, BR codes and results reached on each side.
    static func reach(_ s: Section, _ l: String, _ r: String) -> String {
        let a = s.leftReach, b = s.rightReach
        var out = ["### Generator reach", "",
                   "Counts over all \(a.scenarios) scenarios with a complete trace on both sides (skipped steps are not counted; "
                   + "a BC command counts when the driver consumed it). Zero rows are what no scenario reached.", ""]
        out.append("| step kind or BC command | \(l) | \(r) |")
        out.append("|---|---:|---:|")
        let kinds = Set(a.steps.keys).union(b.steps.keys).union(TraceReach.allCommandNames).sorted()
        for k in kinds { out.append("| `\(k)` | \(a.steps[k] ?? 0) | \(b.steps[k] ?? 0) |") }
        out.append("")
        out.append("| BR code returned | \(l) | \(r) |")
        out.append("|---|---:|---:|")
        for k in Set(a.returns.keys).union(b.returns.keys).union(TraceReach.allReturnNames).sorted() {
            let note = unreachableReturns[k].map { " (\($0))" } ?? ""
            out.append("| `\(k)`\(note) | \(a.returns[k] ?? 0) | \(b.returns[k] ?? 0) |")
        }
        out.append("")
        out.append("| operation and result | \(l) | \(r) |")
        out.append("|---|---:|---:|")
        for k in Set(a.results.keys).union(b.results.keys).sorted() {
            out.append("| `\(k)` | \(a.results[k] ?? 0) | \(b.results[k] ?? 0) |")
        }
        out.append("")
        return out.joined(separator: "\n")
    }

    /// A class's analysis between markers, so that `kernel analyses` can refresh it in place.
    static func analysisBlock(_ key: String, _ analyses: [String: String], placeholder: String? = nil) -> String {
        "<!-- analysis \(key) -->\n"
            + (analyses[key] ?? placeholder ?? "_Analysis: not written yet (add `\(key)` to the analysis file)._")
            + "\n<!-- /analysis -->"
    }

    /// The analysis key of a comparison's own note: `section <title>`.
    static func sectionKey(_ title: String) -> String { "section \(title)" }

    /// Replaces every marked analysis block of a rendered report with the current text of the
    /// analysis file (the kernels need not run again when only the analyses changed).
    public static func refreshAnalyses(_ report: String, _ analyses: [String: String]) -> String {
        var out: [Substring] = []
        var skipping = false
        for line in report.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("<!-- analysis ") && line.hasSuffix(" -->") {
                let key = String(line.dropFirst("<!-- analysis ".count).dropLast(" -->".count))
                out.append(Substring(analysisBlock(key, analyses, placeholder: key.hasPrefix("section ") ? "" : nil)))
                skipping = true
            } else if skipping {
                if line == "<!-- /analysis -->" { skipping = false }
            } else {
                out.append(line)
            }
        }
        return out.joined(separator: "\n")
    }

    /// The Markdown of one class: heading, facts, minimal scenario, traces, analysis.
    static func classLines(_ n: Int, _ c: DivergenceClass, _ l: String, _ r: String, _ analyses: [String: String],
                           scope: String? = nil) -> [String] {
        let k = key(c.signature)
        return ["### \(n). \(statement(c, l, r))", "",
                "- signature: `\(c.signature)` (key `\(k)`)",
                "- scenarios in the class: \(c.count) (first: `\(c.example)`" + (c.representative == c.example ? ")" : "; shrunk from `\(c.representative)`)"),
                minimalLine(c), "",
                "```", ScenarioText.render(c.minimal), "```", "",
                "Traces (`*` marks steps that differ):", "",
                "```", traces(c, l, r), "```", "",
                analysisBlock(analysisKey(k, scope: scope), analyses), ""]
    }

    /// The analysis key of a class: its signature key in the report's first comparison, and
    /// `<comparison title> <key>` in the others (`--also`), where the same signature can have
    /// another cause.
    public static func analysisKey(_ key: String, scope: String?) -> String {
        scope.map { "\($0) \(key)" } ?? key
    }

    /// The scope of the classes of the report's `index`-th comparison: none for the first.
    public static func scope(_ index: Int, _ section: Section) -> String? { index == 0 ? nil : section.title }

    static func minimalLine(_ c: DivergenceClass) -> String {
        "- minimal scenario: \(c.minimal.steps.count) steps; reproduced on \(c.confirmations) of \(c.confirmationRuns) runs"
    }

    /// Replaces, in a rendered report, the minimal scenario (heading, step count, scenario and
    /// traces) of every class of `section` that is confirmed on every run and no larger than the
    /// report's (an equal one still renews the headline and traces). Class sizes and analyses stay. Returns the new text and the refined keys.
    public static func refine(_ report: String, with section: Section) -> (text: String, refined: [String]) {
        var lines = report.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var refined: [String] = []
        for c in section.classes where c.confirmations == c.confirmationRuns {
            guard let top = lines.firstIndex(of: "## \(section.title)") else { break }
            let end = lines[(top + 1)...].firstIndex { $0.hasPrefix("## ") } ?? lines.count
            let k = key(c.signature)
            guard let sig = lines[top..<end].firstIndex(where: { $0.hasSuffix("(key `\(k)`)") }),
                  let heading = lines[top..<sig].lastIndex(where: { $0.hasPrefix("### ") }),
                  let minimal = lines[sig..<end].firstIndex(where: { $0.hasPrefix("- minimal scenario: ") }),
                  let old = Int(lines[minimal].dropFirst("- minimal scenario: ".count).prefix { $0.isNumber }),
                  c.minimal.steps.count <= old,
                  let analysis = lines[minimal..<end].firstIndex(where: { $0.hasPrefix("<!-- analysis ") }) else { continue }
            let number = Int(lines[heading].dropFirst(4).prefix { $0.isNumber }) ?? 0
            // Everything from the heading up to the analysis block, keeping the report's count line.
            var replacement = classLines(number, c, section.left.shortName, section.right.shortName, [:])
                .prefix { !$0.hasPrefix("<!-- analysis ") }
                .flatMap { $0.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) }
            if let countLine = lines[sig..<minimal].first(where: { $0.hasPrefix("- scenarios in the class: ") }),
               let i = replacement.firstIndex(where: { $0.hasPrefix("- scenarios in the class: ") }) {
                replacement[i] = countLine
            }
            lines.replaceSubrange(heading..<analysis, with: replacement)
            refined.append(k)
        }
        return (lines.joined(separator: "\n"), refined)
    }

    /// Adds a line after the report's header paragraph saying how it was refined.
    public static func noteRefinement(_ report: String, _ note: String) -> String {
        var lines = report.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let firstSection = lines.firstIndex { $0.hasPrefix("## ") } ?? lines.count
        lines.insert(contentsOf: [note, ""], at: firstSection)
        return lines.joined(separator: "\n")
    }

    /// Reads hand-written analyses: sections `## <key>` followed by Markdown, in one file.
    public static func loadAnalyses(_ path: String) -> [String: String] {
        guard let bytes = CorpusFiles.read(path) else { return [:] }
        var result: [String: String] = [:]
        var key: String?
        var body: [Substring] = []
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("## ") {
                if let k = key { result[k] = body.joined(separator: "\n").trimmed }
                key = String(line.dropFirst(3)).trimmed
                body = []
            } else {
                body.append(line)
            }
        }
        if let k = key { result[k] = body.joined(separator: "\n").trimmed }
        return result
    }
}

func padIndex(_ i: Int) -> String {
    let s = String(i)
    return String(repeating: " ", count: max(0, 4 - s.count)) + s
}
#endif
