import BinderUAPI

extension BinderDriver {
    /// Harness-only consistency check (O(n)).
    public func checkInvariants() -> String? {
        var allNodes: [ObjectIdentifier: Node] = [:]
        for sp in procs {
            guard let p = sp.proc else { continue }
            for (ptr, n) in p.nodes {
                if n.ptr != ptr || n.proc !== p { return "node map inconsistent in proc \(p.index)" }
                allNodes[ObjectIdentifier(n)] = n
            }
            var seen = Set<UInt32>()
            for (d, r) in p.refsByDesc {
                if r.desc != d { return "ref desc mismatch" }
                if !seen.insert(d).inserted { return "duplicate handle" }
                if p.refsByNode[ObjectIdentifier(r.node)] !== r { return "refsByNode inconsistent" }
                if !r.node.refs.contains(where: { $0 === r }) { return "ref missing from node ref list" }
                if r.strong < 0 || r.weak < 0 || (r.strong == 0 && r.weak == 0) { return "ref with bad counts" }
                let w = Int(d / 64)
                if w >= p.descBits.count || p.descBits[w] & (UInt64(1) << UInt64(d % 64)) == 0 { return "handle bitmap missing \(d)" }
                allNodes[ObjectIdentifier(r.node)] = r.node
            }
            if p.refsByNode.count != p.refsByDesc.count { return "ref index sizes differ" }
            let bitCount = p.descBits.reduce(0) { $0 + $1.nonzeroBitCount }
            if bitCount != p.refsByDesc.count { return "handle bitmap has stale bits" }
            if let e = p.alloc.check() { return "proc \(p.index): \(e)" }
            if let e = checkWaiting(p) { return "proc \(p.index): \(e)" }
        }
        for (_, n) in allNodes {
            let strongRefs = n.refs.filter { $0.strong > 0 }.count
            if n.internalStrongRefs != strongRefs { return "node \(n.ptr) internal strong \(n.internalStrongRefs) != \(strongRefs)" }
            for r in n.refs where r.node !== n || r.proc.refsByDesc[r.desc] !== r { return "node ref list inconsistent" }
        }
        return checkFiles()
    }

    /// `waiting_threads` is a consistent list of this proc's threads asleep in a read for proc
    /// work; `pollThreads` lists threads of `threads` with the poll bit, in ascending index.
    private func checkWaiting(_ p: Proc) -> String? {
        var prev: Thread? = nil
        var cur = p.waitingThreads.first
        var n = 0
        while let t = cur {
            n += 1
            if n > p.threads.count + 1 { return "waiting_threads has a cycle" }
            if t.proc !== p || !t.isOnWaitingList || t.waitingPrev !== prev { return "waiting_threads links inconsistent" }
            guard case let .read(w)? = t.parked, w.doProcWork else { return "thread \(t.index) on waiting_threads is not waiting for proc work" }
            prev = t
            cur = t.waitingNext
        }
        // Parking needs an empty proc todo, and proc work queued later takes a waiting thread
        // (`binder_proc_transaction`, `binder_wakeup_proc_ilocked`): both are never non-empty
        // between calls.
        if !p.todo.isEmpty && !p.waitingThreads.isEmpty { return "proc work queued while a thread waits for it" }
        var last = Int.min
        for t in p.pollThreads {
            if t.index <= last || p.threads[t.index] !== t || t.looper & Thread.poll == 0 { return "poll thread list inconsistent" }
            last = t.index
        }
        return nil
    }
}
