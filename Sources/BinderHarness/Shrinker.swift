import BinderUAPI

/// Step-level shrinking of a failing scenario. A candidate is kept only when it still fails
/// with the same divergence signature, so every kept step still applies in its new context
/// (steps that no longer apply change the trace and are rejected by the re-run).
public struct Shrinker {
    /// Returns the divergence of a candidate, or nil when it passes.
    public let check: (Scenario) -> Divergence?
    /// Upper bound on candidate evaluations.
    public var budget: Int

    public init(budget: Int = 4000, check: @escaping (Scenario) -> Divergence?) {
        self.budget = budget
        self.check = check
    }

    /// Shrinks `scenario`, which must fail with `signature`.
    public mutating func shrink(_ scenario: Scenario, signature: String) -> Scenario {
        var best = scenario
        if let d = check(best), d.signature == signature, d.stepIndex + 1 < best.steps.count {
            best.steps.removeSubrange((d.stepIndex + 1)...)
        }
        // What the model saw in `best`, for renumbering operands after deletions; computed
        // when first needed after `best` changes.
        var observed: OperandRemap.Original?
        func accept(_ candidate: Scenario) -> Bool {
            guard budget > 0 else { return false }
            budget -= 1
            guard let d = check(candidate), d.signature == signature else { return false }
            best = candidate
            if d.stepIndex + 1 < best.steps.count { best.steps.removeSubrange((d.stepIndex + 1)...) }
            observed = nil
            return true
        }
        /// Deletes the steps `drop` selects; when that alone fails, tries it again with later
        /// handles and received buffers renumbered.
        func acceptDeletion(_ drop: (Int) -> Bool) -> Bool {
            guard let (plain, kept) = ShrinkMoves.deleting(best, drop) else { return false }
            if accept(plain) { return true }
            if observed == nil { observed = OperandRemap.Original(best) }
            let renumbered = observed!.remap(plain, kept: kept)
            return renumbered != plain && accept(renumbered)
        }
        var progress = true
        while progress, budget > 0 {
            progress = false
            // 1. Delete chunks of steps, large chunks first; when a deletion alone fails, try it
            // with later handles and received buffers renumbered (`OperandRemap`).
            var chunk = max(1, best.steps.count / 2)
            while chunk >= 1 {
                var i = 0
                while i < best.steps.count {
                    let r = i..<min(i + chunk, best.steps.count)
                    if acceptDeletion({ r.contains($0) }) { progress = true } else { i += chunk }
                }
                chunk /= 2
            }
            // 2. Delete single commands inside write-reads and simplify arguments.
            for i in best.steps.indices.reversed() where i < best.steps.count {
                for candidate in Shrinker.simplifications(of: best.steps[i]) {
                    var c = best
                    c.steps[i] = candidate
                    if accept(c) { progress = true; break }
                }
            }
            // 3. Fewer processes when the last one is unused.
            if best.processCount > 1, !best.steps.contains(where: { $0.process == best.processCount - 1 }) {
                var c = best
                c.processCount -= 1
                if accept(c) { progress = true }
            }
        }
        return best
    }

    /// Simpler variants of one step, simplest first.
    public static func simplifications(of step: Step) -> [Step] {
        var out: [Step] = []
        func with(_ a: Action) { out.append(Step(step.process, step.thread, a)) }
        if step.thread != 0 { out.append(Step(step.process, 0, step.action)) }
        switch step.action {
        case let .writeRead(wr):
            for j in wr.commands.indices {
                var w = wr; w.commands.remove(at: j); with(.writeRead(w))
            }
            if wr.readSize > 256 { var w = wr; w.readSize = 256; with(.writeRead(w)) }
            for j in wr.commands.indices {
                for simpler in simplifications(of: wr.commands[j]) {
                    var w = wr; w.commands[j] = simpler; with(.writeRead(w))
                }
            }
        case let .mmap(pages, prot) where pages > 1:
            with(.mmap(pages: 1, prot: prot))
        case let .rawIoctl(c, arg, p) where !arg.isEmpty:
            with(.rawIoctl(command: c, argument: [], pointer: p))
        default: break
        }
        return out
    }

    static func simplifications(of command: Command) -> [Command] {
        func variants(_ t: Transaction) -> [Transaction] {
            var out: [Transaction] = []
            for j in t.payload.objects.indices {
                var u = t; u.payload.objects.remove(at: j); out.append(u)
                if t.payload.objects[j].gap > 0 { var g = t; g.payload.objects[j].gap = 0; out.append(g) }
            }
            if t.payload.trailing > 0 { var u = t; u.payload.trailing = 0; out.append(u) }
            if t.code != 0 { var u = t; u.code = 0; out.append(u) }
            return out
        }
        switch command {
        case let .transaction(t): return variants(t).map { .transaction($0) }
        case let .reply(t): return variants(t).map { .reply($0) }
        case let .raw(b) where b.count > 4: return [.raw(Array(b.prefix(4)))]
        default: return []
        }
    }
}
