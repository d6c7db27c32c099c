import BinderUAPI

public struct ModelRefView: Equatable {
    public var handle: UInt32; public var strong: Int; public var weak: Int; public var nodeIsDead: Bool
    public var nodeOwner: ProcessIndex?; public var nodePtr: UInt64; public var deathCookie: UInt64?
    public init(handle: UInt32, strong: Int, weak: Int, nodeIsDead: Bool, nodeOwner: ProcessIndex?, nodePtr: UInt64, deathCookie: UInt64?) {
        self.handle = handle; self.strong = strong; self.weak = weak; self.nodeIsDead = nodeIsDead
        self.nodeOwner = nodeOwner; self.nodePtr = nodePtr; self.deathCookie = deathCookie
    }
}
public struct ModelNodeView: Equatable {
    public var ptr: UInt64; public var cookie: UInt64; public var hasStrongRef: Bool; public var hasWeakRef: Bool
    public var pendingStrongRef: Bool; public var pendingWeakRef: Bool
    public init(ptr: UInt64, cookie: UInt64, hasStrongRef: Bool, hasWeakRef: Bool, pendingStrongRef: Bool, pendingWeakRef: Bool) {
        self.ptr = ptr; self.cookie = cookie; self.hasStrongRef = hasStrongRef; self.hasWeakRef = hasWeakRef
        self.pendingStrongRef = pendingStrongRef; self.pendingWeakRef = pendingWeakRef
    }
}
public struct ModelThreadView: Equatable {
    public var thread: ThreadIndex
    public var looper: UInt32
    /// The stack top is this thread's own outgoing sync call.
    public var awaitingReply: Bool
    /// The stack top is an incoming sync call to this thread.
    public var mustReply: Bool
    public var todoCount: Int
    public var processTodo: Bool
    public var returnErrorPending: Bool
}
public struct ModelProcessView: Equatable {
    public var isOpen: Bool
    public var isMapped: Bool
    public var hasProc: Bool
    public var bufferSize: UInt64
    public var freeAsyncSpace: UInt64
    public var isContextManager: Bool
    public var refs: [ModelRefView]
    public var nodes: [ModelNodeView]
    public var threads: [ModelThreadView]
    public var freeableBuffers: [UInt64]
    public var procTodoCount: Int
    public var deliveredDeathCookies: [UInt64]
}

extension BinderModel {
    public func view(of process: ProcessIndex) -> ModelProcessView {
        let s = slots[process]
        guard let proc = s.proc else {
            return ModelProcessView(isOpen: s.fdOpen, isMapped: false, hasProc: false, bufferSize: 0, freeAsyncSpace: 0,
                                    isContextManager: false, refs: [], nodes: [], threads: [], freeableBuffers: [],
                                    procTodoCount: 0, deliveredDeathCookies: [])
        }
        let refs = proc.refs.map { r in
            ModelRefView(handle: r.desc, strong: r.strong, weak: r.weak, nodeIsDead: r.node.proc == nil,
                         nodeOwner: r.node.proc?.index, nodePtr: r.node.ptr, deathCookie: r.death?.cookie)
        }
        let nodes = proc.nodes.map { n in
            ModelNodeView(ptr: n.ptr, cookie: n.cookie, hasStrongRef: n.hasStrongRef, hasWeakRef: n.hasWeakRef,
                          pendingStrongRef: n.pendingStrongRef, pendingWeakRef: n.pendingWeakRef)
        }
        let threads = proc.threads.map { t in
            ModelThreadView(thread: t.index, looper: t.looper,
                            awaitingReply: t.transactionStack.map { $0.from === t } ?? false,
                            mustReply: t.transactionStack.map { $0.toThread === t } ?? false,
                            todoCount: t.todo.items.count, processTodo: t.processTodo,
                            returnErrorPending: t.returnError.errorCmd != BinderReturn.ok.rawValue)
        }
        return ModelProcessView(
            isOpen: s.fdOpen, isMapped: s.vmaPresent && proc.alloc.mapped, hasProc: true,
            bufferSize: proc.alloc.bufferSize, freeAsyncSpace: proc.alloc.freeAsyncSpace,
            isContextManager: ctxMgrNode != nil && ctxMgrNode!.proc === proc,
            refs: refs, nodes: nodes, threads: threads,
            freeableBuffers: proc.alloc.blocks.filter { !$0.free && $0.allowUserFree }.map { base(of: proc) + $0.start },
            procTodoCount: proc.todo.items.count,
            deliveredDeathCookies: proc.deliveredDeath.items.compactMap { $0.death?.cookie })
    }

    public var contextManagerExists: Bool { ctxMgrNode != nil }

    /// The process's `RLIMIT_NOFILE` soft limit.
    public func fdLimit(_ process: ProcessIndex) -> UInt32 { UInt32(slots[process].fds.limit) }

    /// The `count` lowest fd numbers free in the process's table (ignoring its fd limit): an fd
    /// limit equal to the k-th of them leaves exactly k fds to receive.
    public func freeFdNumbers(_ process: ProcessIndex, count: Int) -> [Int32] {
        let files = slots[process].fds.files
        var out: [Int32] = []
        var fd = 0
        while out.count < count {
            if fd >= files.count || files[fd] == nil { out.append(Int32(fd)) }
            fd += 1
        }
        return out
    }
}
