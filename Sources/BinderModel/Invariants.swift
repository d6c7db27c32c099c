import BinderUAPI

extension BinderModel {
    /// Checks the model's structural invariants; returns the first violation.
    public func checkInvariants() -> String? {
        let live = slots.compactMap { $0.proc }
        for proc in live {
            let pid = proc.pid
            // Handles unique and ascending; refs linked both ways.
            for (i, r) in proc.refs.enumerated() {
                if i > 0 && proc.refs[i - 1].desc >= r.desc { return "proc \(pid): handles not unique/ascending" }
                if !r.node.refs.contains(where: { $0 === r }) { return "proc \(pid): ref \(r.desc) missing from node's list" }
                if r.strong < 0 || r.weak < 0 || (r.strong == 0 && r.weak == 0) { return "proc \(pid): ref \(r.desc) bad counts" }
            }
            for (i, n) in proc.nodes.enumerated() {
                if i > 0 && proc.nodes[i - 1].ptr >= n.ptr { return "proc \(pid): node ptrs not unique" }
                if n.proc !== proc { return "proc \(pid): node owner mismatch" }
                if let e = checkNode(n) { return "proc \(pid): \(e)" }
            }
            // Transaction stacks: each entry is incoming or outgoing for the thread.
            for t in proc.threads {
                var tx = t.transactionStack
                var depth = 0
                while let c = tx {
                    depth += 1
                    if depth > 10_000 { return "thread stack cycle" }
                    if c.toThread === t { tx = c.toParent } else if c.from === t { tx = c.fromParent } else { return "proc \(pid) thread \(t.index): foreign transaction on stack" }
                }
            }
            // Parked threads: a reader waiting for proc work is on `waiting_threads` (and nothing
            // else is); parking needs an empty proc todo and proc work queued later takes a
            // waiting thread, so both are never non-empty between calls.
            for t in proc.threads {
                let listed = proc.waitingThreads.contains { $0 === t }
                var waitsForProcWork = false
                if case let .read(w) = t.parked {
                    waitsForProcWork = w.doProcWork
                    if t.looper & Looper.waiting == 0 { return "proc \(pid) thread \(t.index): parked read without WAITING" }
                }
                if listed != waitsForProcWork { return "proc \(pid) thread \(t.index): waiting_threads membership wrong" }
                if t.woken { return "proc \(pid) thread \(t.index): woken but never run" }
            }
            if !proc.todo.isEmpty && !proc.waitingThreads.isEmpty { return "proc \(pid): proc work queued while a thread waits for it" }
            if let e = checkAllocator(proc.alloc) { return "proc \(pid): \(e)" }
        }
        for n in deadNodes { if let e = checkNode(n) { return "dead node: \(e)" } }
        return nil
    }

    func checkNode(_ n: Node) -> String? {
        let strongRefs = n.refs.filter { $0.strong > 0 }.count
        if n.internalStrongRefs != strongRefs { return "node \(n.ptr): internal_strong_refs \(n.internalStrongRefs) != \(strongRefs)" }
        for r in n.refs where r.node !== n { return "node \(n.ptr): foreign ref" }
        for r in n.refs where !r.proc.refs.contains(where: { $0 === r }) { return "node \(n.ptr): ref not in its proc" }
        if n.localStrongRefs < 0 || n.localWeakRefs < 0 { return "node \(n.ptr): negative local counts" }
        return nil
    }

    func checkAllocator(_ a: Allocator) -> String? {
        if a.bufferSize == 0 { return a.blocks.isEmpty ? nil : "blocks without mapping" }
        guard let first = a.blocks.first, first.start == 0 else { return "blocks do not start at 0" }
        var asyncUsed: UInt64 = 0
        for (i, b) in a.blocks.enumerated() {
            let end = i + 1 < a.blocks.count ? a.blocks[i + 1].start : a.bufferSize
            if end <= b.start { return "blocks overlap or empty at \(b.start)" }
            if i > 0 && b.free && a.blocks[i - 1].free { return "adjacent free blocks at \(b.start)" }
            if b.free != (b.rbNode != nil) { return "free tree membership wrong at \(b.start)" }
            if !b.free && b.asyncTransaction { asyncUsed += end - b.start }
        }
        if let e = a.freeTree.validate() { return e }
        let inTree = a.freeTree.inOrder
        if inTree.count != a.blocks.filter({ $0.free }).count { return "free tree size mismatch" }
        for b in inTree where b.rbNode?.key != a.size(of: b) { return "free tree key mismatch at \(b.start)" }
        if a.freeAsyncSpace != a.bufferSize / 2 - asyncUsed { return "free async space \(a.freeAsyncSpace) != \(a.bufferSize / 2 - asyncUsed)" }
        return nil
    }
}
