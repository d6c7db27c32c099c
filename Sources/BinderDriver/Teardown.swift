/// Breaking the driver's reference cycles when it is released.
///
/// The object graph mirrors the kernel's pointer structure and is full of strong cycles:
/// proc <-> thread / node / ref, node <-> ref, proc <-> its binder file (`Proc.file`; fd tables
/// and transactions' fd fixups hold files too), transaction <-> thread (from / to / stacks),
/// allocator -> transaction -> bufProc, the intrusive doubly linked work lists
/// (`Work.prev`/`next`) and `waiting_threads` (`Thread.waitingNext`/`waitingPrev`, plus the
/// proc's `pollThreads`). Objects also outlive their proc (dead nodes kept by refs, transactions
/// whose sender died, released procs), so walking the live procs is not enough: every object that
/// can sit on a cycle is recorded once at allocation (`allProcs`, `allThreads`, `allNodes`,
/// `allTransactions`) and `deinit` clears their outgoing links.
///
/// Work items other than nodes and transactions (`Death`, `Freeze`, `SimpleWork`, `ErrorSlot`)
/// only link to each other through `prev`/`next`, and an item's links are non-nil only while it
/// is on a list; every list is owned by a proc, thread or node, so unlinking those lists frees them.
/// Refs are only referenced from proc maps and `Node.refs`, which are cleared. What remains is
/// acyclic (ref -> proc/node, thread -> proc, proc -> allocator), so ARC frees it all.
extension BinderDriver {
    /// Unlinks every item of `list` (without the per-item bookkeeping of `remove`).
    private static func unlinkAll(_ list: WorkList) {
        var w = list.head
        list.head = nil
        list.tail = nil
        while let cur = w {
            w = cur.next
            cur.prev = nil
            cur.next = nil
        }
    }

    func tearDown() {
        ctxMgrNode = nil
        wokenThreads = []; freezeWaiters = []
        pendingFputs = []; releasedProcs = []
        for p in allProcs {
            p.file = nil  // file <-> proc
            p.waitingThreads.removeAll()
            p.pollThreads = []
            BinderDriver.unlinkAll(p.todo)
            BinderDriver.unlinkAll(p.deliveredDeath)
            BinderDriver.unlinkAll(p.deliveredFreeze)
            p.threads = [:]
            p.nodes = [:]
            p.refsByDesc = [:]
            p.refsByNode = [:]
            p.alloc.txn = []
            p.alloc.targetNode = []
        }
        for t in allThreads {
            BinderDriver.unlinkAll(t.todo)
            t.transactionStack = nil
            t.parked = nil
            t.waitingNext = nil; t.waitingPrev = nil
            t.returnError.prev = nil; t.returnError.next = nil
            t.replyError.prev = nil; t.replyError.next = nil
        }
        for n in allNodes {
            BinderDriver.unlinkAll(n.asyncTodo)
            n.proc = nil
            n.refs = []
            n.prev = nil; n.next = nil
        }
        for t in allTransactions {
            t.from = nil
            t.fromParent = nil
            t.toParent = nil
            t.toProc = nil
            t.toThread = nil
            t.bufProc = nil
            t.fdFixups = []
            t.prev = nil; t.next = nil
        }
        allProcs = []; allThreads = []; allNodes = []; allTransactions = []
    }
}
