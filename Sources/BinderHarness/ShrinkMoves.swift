import BinderUAPI

/// The moves that make a failing scenario smaller, and the order that says which of two
/// scenarios is smaller. Used by the kernel comparison's batched shrinker; `Shrinker` uses the
/// deletions.
public enum ShrinkMoves {
    /// Shrink order: fewer steps, then fewer commands, then fewer payload objects and
    /// non-default arguments, then fewer processes, then lower thread indices. Every accepted
    /// candidate is smaller, so shrinking ends.
    public static func complexity(_ s: Scenario) -> [Int] {
        var commands = 0, objects = 0, arguments = 0
        for step in s.steps {
            switch step.action {
            case let .writeRead(wr):
                commands += wr.commands.count
                if wr.readSize > 256 { arguments += 1 }
                for c in wr.commands {
                    switch c {
                    case let .transaction(t), let .reply(t):
                        objects += t.payload.objects.count
                        arguments += (t.payload.trailing > 0 ? 1 : 0) + (t.code != 0 ? 1 : 0)
                            + t.payload.objects.filter { $0.gap > 0 }.count
                    case let .raw(b): arguments += b.count > 4 ? 1 : 0
                    default: break
                    }
                }
            case let .mmap(pages, _): arguments += pages > 1 ? 1 : 0
            case let .rawIoctl(_, arg, _): arguments += arg.isEmpty ? 0 : 1
            default: break
            }
        }
        return [s.steps.count, commands, objects, arguments, Set(s.steps.map(\.process)).count,
                s.steps.reduce(0) { $0 + Int($1.thread) }]
    }

    public static func smaller(_ a: Scenario, than b: Scenario) -> Bool { complexity(a).lexicographicallyPrecedes(complexity(b)) }

    /// `s` without the steps `drop` selects, and the original indices of the steps kept; nil
    /// when that removes nothing or everything.
    public static func deleting(_ s: Scenario, _ drop: (Int) -> Bool) -> (scenario: Scenario, kept: [Int])? {
        let kept = s.steps.indices.filter { !drop($0) }
        guard !kept.isEmpty, kept.count < s.steps.count else { return nil }
        var c = s
        c.steps = kept.map { s.steps[$0] }
        return (c, kept)
    }

    /// `s` without the steps `drop` selects, as is and with its handles and `received#N`
    /// operands renumbered to name the same objects (`OperandRemap`) when that differs.
    public static func deletions(_ s: Scenario, _ original: OperandRemap.Original, dropping drop: (Int) -> Bool) -> [Scenario] {
        guard let (c, kept) = deleting(s, drop) else { return [] }
        let r = original.remap(c, kept: kept)
        return r == c ? [c] : [c, r]
    }

    /// Smaller variants of a scenario: deletions of whole processes and threads, chunks
    /// (with the range removed), merged write-reads, thread and process merges, single-step
    /// simplifications, then step pairs.
    public static func candidates(_ s: Scenario) -> [(scenario: Scenario, removed: Range<Int>?)] {
        var out: [(Scenario, Range<Int>?)] = []
        let original = OperandRemap.Original(s)
        // Whole processes, then whole threads (keeping the last step, where the divergence is).
        let last = s.steps.last
        var actors: [(ProcessIndex, ThreadIndex?)] = []
        for p in Set(s.steps.map(\.process)).sorted() where p != last?.process { actors.append((p, nil)) }
        // Each process's threads, in order.
        let threads = Dictionary(grouping: s.steps, by: \.process).mapValues { Set($0.map(\.thread)).sorted() }
            .sorted { $0.key < $1.key }
        for (p, ts) in threads where ts.count > 1 {
            for t in ts where !(p == last?.process && t == last?.thread) { actors.append((p, t)) }
        }
        for (p, t) in actors {
            for c in deletions(s, original, dropping: { s.steps[$0].process == p && (t == nil || s.steps[$0].thread == t!) }) {
                out.append((c, nil))
            }
        }
        var chunk = max(1, s.steps.count / 2)
        while chunk >= 1 {
            var i = 0
            while i < s.steps.count {
                let r = i..<min(i + chunk, s.steps.count)
                for (n, c) in deletions(s, original, dropping: { r.contains($0) }).enumerated() { out.append((c, n == 0 ? r : nil)) }
                i += chunk
            }
            if chunk == 1 { break }
            chunk /= 2
        }
        // Two write-reads of one thread made one: the commands of both in one write, placed
        // at the first or at the second.
        for i in s.steps.indices {
            guard case let .writeRead(a) = s.steps[i].action,
                  let j = s.steps[(i + 1)...].firstIndex(where: { $0.process == s.steps[i].process && $0.thread == s.steps[i].thread }),
                  case let .writeRead(b) = s.steps[j].action, let merged = WriteRead.merging(a, b) else { continue }
            for at in [i, j] {
                var c = s
                c.steps[at].action = .writeRead(merged)
                c.steps.remove(at: at == i ? j : i)
                out.append((c, nil))
            }
        }
        // One thread's steps moved to a lower thread of the same process: the moved thread's
        // prologue (BINDER_VERSION) can then go.
        for (p, ts) in threads {
            for t in ts where t > 0 {
                for u in 0..<t {
                    var c = s
                    for i in c.steps.indices where c.steps[i].process == p && c.steps[i].thread == t { c.steps[i].thread = u }
                    out.append((c, nil))
                }
            }
        }
        // One process's steps moved into another process (same thread numbers, or threads the
        // other process does not use): its open and mmap then repeat the other's and can go.
        for (p, own) in threads {
            for (q, used) in threads where q != p {
                let free = (0..<ThreadIndex(Scenario.maxThreads)).filter { !used.contains($0) }
                let same = Dictionary(uniqueKeysWithValues: own.map { ($0, $0) })
                var shifts = [same]
                if own.count <= free.count {
                    let moved = Dictionary(uniqueKeysWithValues: zip(own, free))
                    if moved != same { shifts.append(moved) }
                }
                for shift in shifts {
                    var c = s
                    for i in c.steps.indices {
                        if c.steps[i].process == p { c.steps[i] = Step(q, shift[c.steps[i].thread]!, c.steps[i].action) }
                        c.steps[i].action = c.steps[i].action.renamingTarget(p, to: q)
                    }
                    out.append((c, nil))
                }
            }
        }
        for i in s.steps.indices {
            for v in Shrinker.simplifications(of: s.steps[i]) {
                var c = s
                c.steps[i] = v
                out.append((c, nil))
            }
        }
        // Pairs of steps that only go together (a close and the reopen after it, a call and its
        // read): the last resort of a scenario where no single step can go.
        if (3...30).contains(s.steps.count) {
            for i in 0..<(s.steps.count - 1) {
                for j in (i + 1)..<s.steps.count where j != s.steps.count - 1 {
                    for c in deletions(s, original, dropping: { $0 == i || $0 == j }) { out.append((c, nil)) }
                }
            }
        }
        return out
    }
}

extension Action {
    /// This action with process `p` as a BINDER_FREEZE / BINDER_GET_FROZEN_INFO target
    /// replaced by `q`.
    func renamingTarget(_ p: ProcessIndex, to q: ProcessIndex) -> Action {
        switch self {
        case let .freeze(t, enable, ms) where t == p: return .freeze(target: q, enable: enable, timeoutMs: ms)
        case let .frozenInfo(t) where t == p: return .frozenInfo(target: q)
        default: return self
        }
    }
}

extension WriteRead {
    /// One write-read doing what `a` then `b` do: `a`'s commands, then `b`'s, and the larger
    /// read. Nil when `a` has arguments a merge would change (bad pointers, a truncated write,
    /// consumed offsets).
    static func merging(_ a: WriteRead, _ b: WriteRead) -> WriteRead? {
        guard a.writeSizeAdjust == 0, a.writeConsumed == 0, a.readConsumed == 0, b.writeConsumed == 0, b.readConsumed == 0,
              [a.writePointer, a.readPointer, a.structPointer, b.writePointer, b.readPointer, b.structPointer].allSatisfy({ $0 == .valid })
        else { return nil }
        var m = b
        m.commands = a.commands + b.commands
        m.readSize = max(a.readSize, b.readSize)
        return m
    }
}
