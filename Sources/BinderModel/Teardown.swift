/// Memory management of the model's object graph.
///
/// The model mirrors the kernel's pointer graph, which is full of cycles (proc ↔ thread,
/// node ↔ ref, transaction ↔ buffer, transaction ↔ its own work item, work item ↔ list, ...),
/// and objects routinely outlive their proc (dead nodes kept alive by refs, transactions whose
/// sender died, released procs). Rather than encode an ownership scheme with weak references,
/// the model keeps every object it allocates alive until the `BinderModel` itself goes away:
/// `track` records each new object, and `deinit` asks each one to `breakCycles()`, clearing
/// its reference-typed fields so that ARC can free the whole graph.
/// Nothing here runs while the model is in use, so it cannot affect behaviour.
protocol CycleBreaking: AnyObject {
    /// Drops every reference this object holds to other model objects.
    func breakCycles()
}

extension BinderModel {
    /// Registers a newly allocated object so `deinit` can break its cycles.
    func track<T: CycleBreaking>(_ object: T) -> T {
        allocated.append(object)
        return object
    }

    /// Called from `deinit`.
    func breakAllCycles() {
        for object in allocated { object.breakCycles() }
        allocated = []
    }
}

extension WorkList: CycleBreaking {
    func breakCycles() {
        for w in items { w.list = nil }
        items = []
    }
}

extension Work: CycleBreaking {
    func breakCycles() {
        list = nil
        transaction = nil
        node = nil
        death = nil
        freeze = nil
    }
}

extension Proc: CycleBreaking {
    func breakCycles() {
        threads = []
        nodes = []
        refs = []
        file = nil
        todo.breakCycles()
        deliveredDeath.breakCycles()
        deliveredFreeze.breakCycles()
        alloc.breakCycles()
    }
}

extension Thread: CycleBreaking {
    func breakCycles() {
        transactionStack = nil
        todo.breakCycles()
        returnError.breakCycles()
        replyError.breakCycles()
    }
}

extension Node: CycleBreaking {
    func breakCycles() {
        proc = nil
        refs = []
        asyncTodo.breakCycles()
        work.breakCycles()
    }
}

extension Ref: CycleBreaking {
    func breakCycles() {
        death = nil
        freeze = nil
    }
}

extension DeathRecord: CycleBreaking {
    func breakCycles() { work.breakCycles() }
}

extension FreezeRecord: CycleBreaking {
    func breakCycles() { work.breakCycles() }
}

extension Transaction: CycleBreaking {
    func breakCycles() {
        from = nil
        fromParent = nil
        toProc = nil
        toThread = nil
        toParent = nil
        buffer = nil
        fdFixups = []
        work.breakCycles()
    }
}

/// The allocator owns its buffers; buffers dropped from `blocks` by merging are free and
/// already unlinked (no transaction, target node or free-tree node).
extension Allocator: CycleBreaking {
    func breakCycles() {
        for b in blocks { b.breakCycles() }
        blocks = []
        freeTree.root = nil
    }
}

extension Buffer: CycleBreaking {
    func breakCycles() {
        targetNode = nil
        transaction = nil
        rbNode = nil
    }
}
