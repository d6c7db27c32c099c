import BinderModel
import BinderUAPI

/// The valid (precondition-respecting) moves of the generator.
extension GenerationSession {
    enum Move: CaseIterable {
        case publish, call, read, reply, freeBuffers, refOp, nodeDone, death, kill, finishKill, reopen
        case threadExit, looper, introspect, freeze, nestedChain, blocking, files
    }

    func bodyStep() {
        let live = liveProcesses
        var weights: [Move: Int] = [:]
        let cmExists = model.contextManagerExists
        let anyReadable = live.contains { !readableThreads($0).isEmpty }
        let anyMustReply = live.contains { p in views[p].threads.contains { $0.mustReply } }
        let anyFreeable = live.contains { !freeable($0).isEmpty }
        let anyRefs = live.contains { !views[$0].refs.isEmpty }
        let anyPendingNode = live.contains { p in views[p].nodes.contains { $0.pendingStrongRef || $0.pendingWeakRef } }
        let anyDelivered = live.contains { !views[$0].deliveredDeathCookies.isEmpty }
        let dead = (0..<processCount).filter { !procs[$0].open && !procs[$0].mapped && !runner.hasExited($0) }
        let dying = (0..<processCount).filter { procs[$0].dying && (procs[$0].open || procs[$0].mapped) }

        if cmExists, live.contains(where: { !views[$0].isContextManager }) { weights[.publish] = 7 }
        if anyRefs || cmExists { weights[.call] = 10 }
        weights[.read] = anyReadable ? 18 : 3
        if anyMustReply { weights[.reply] = 16; weights[.nestedChain] = 4 }
        if anyFreeable { weights[.freeBuffers] = 7 }
        if anyRefs || cmExists { weights[.refOp] = 5 }
        if anyPendingNode { weights[.nodeDone] = 12 }
        if anyRefs || anyDelivered { weights[.death] = anyDelivered ? 8 : 3 }
        if steps.count > 12, live.count >= 2, deaths < 3 { weights[.kill] = 2 }
        if !dying.isEmpty { weights[.finishKill] = 10 }
        if !dead.isEmpty { weights[.reopen] = 6 }
        if !live.isEmpty {
            weights[.threadExit] = anyMustReply ? 2 : 1
            weights[.looper] = 2
            weights[.introspect] = 2
            weights[.freeze] = config.freezeWeight
            weights[.blocking] = config.blockingWeight * (live.contains(where: runner.hasParkedThread) ? 2 : 1)
            weights[.files] = config.fileWeight
        }
        let moves = Move.allCases.filter { (weights[$0] ?? 0) > 0 }
        guard !moves.isEmpty else { return }
        let move = moves[rng.weighted(moves.map { weights[$0]! })]
        switch move {
        case .publish: publish()
        case .call: call(nested: false)
        case .nestedChain: call(nested: true)
        case .read: read()
        case .reply: reply()
        case .freeBuffers: freeBuffers()
        case .refOp: refOp()
        case .nodeDone: nodeDone()
        case .death: death()
        case .kill: kill()
        case .finishKill: finishKill(dying)
        case .reopen: reopen(rng.pick(dead))
        case .threadExit: threadExit()
        case .looper: looper()
        case .introspect: introspect()
        case .freeze: freezeMove()
        case .blocking: blockingMove()
        case .files: fileMove()
        }
    }

    // MARK: payloads

    func binderObject(_ p: ProcessIndex) -> ObjectKind {
        let ptr = nodePtr(p, rng.below(4))
        let c = rng.percent(3) ? cookie(for: ptr) &+ 1 : cookie(for: ptr)
        // A node takes its flags when it is first sent: three in four accept fds, and every
        // libbinder node does (`Parcel::flattenBinder`).
        let flags = config.fileWeight > 0 && (config.libbinder || ptr & 0x300 != 0) ? FlatBinderFlags.acceptsFDs : 0
        return .binder(ptr: ptr, cookie: c, flags: flags, weak: rng.percent(20))
    }

    func handleObject(_ p: ProcessIndex) -> ObjectKind? {
        guard let r = rng.pickOptional(views[p].refs) else { return nil }
        let weak = r.strong == 0 ? !rng.percent(5) : rng.percent(20)
        return .handle(r.handle, flags: 0, weak: weak)
    }

    func gap() -> UInt32 { rng.percent(80) ? 0 : rng.pick([4, 8, 12, 16, 32]) }

    func trailing() -> UInt32 {
        if rng.percent(3) { return rng.pick([1500, 3000, 4000]) }
        if rng.percent(45) { return rng.pick(sizePalette) }
        return rng.pick([0, 0, 4, 8, 16, 24, 40, 64, 100, 256])
    }

    func payload(_ p: ProcessIndex, handles: Int = 40, binders: Int = 40) -> Payload {
        var objects: [PayloadObject] = []
        let n = rng.weighted([45, 35, 15, 5])
        for _ in 0..<n {
            if rng.weighted([binders, handles]) == 0 {
                objects.append(PayloadObject(gap: gap(), binderObject(p)))
            } else if let h = handleObject(p) {
                objects.append(PayloadObject(gap: gap(), h))
            } else {
                objects.append(PayloadObject(gap: gap(), binderObject(p)))
            }
        }
        objects += fdObjects(p)
        return Payload(objects: objects, trailing: trailing())
    }

    func extraFlags(oneway: Bool, targetFrozen: Bool) -> UInt32 {
        var f: UInt32 = oneway ? TransactionFlags.oneWay : 0
        // libbinder sets TF_ACCEPT_FDS on every call (IPCThreadState::transact).
        if !oneway, config.fileWeight > 0, config.libbinder || rng.percent(50) { f |= TransactionFlags.acceptFDs }
        if rng.percent(5) { f |= TransactionFlags.clearBuf }
        if rng.percent(3) { f |= TransactionFlags.statusCode }
        if oneway, rng.percent(targetFrozen ? 40 : 3) { f |= TransactionFlags.updateTxn }
        return f
    }

    /// With a valid scatter-gather blob list sometimes.
    func maybeScatterGather(_ t: inout Transaction, sender p: ProcessIndex) {
        if config.fileWeight > 0, hasFiles(p), rng.percent(12) { return appendFdArray(p, to: &t) }
        guard rng.percent(6) else { return }
        var total: UInt64 = 0
        for _ in 0..<rng.int(1...2) {
            let len = rng.pick([8, 16, 24, 40, 64]) as UInt32
            t.payload.objects.append(PayloadObject(gap: 0, .ptr(length: len, flags: 0, parent: 0, parentOffset: 0)))
            total += (UInt64(len) + 7) & ~7
        }
        t.buffersSize = total
    }

    /// A few prefix commands that ride along in the same write.
    func prefixCommands(_ p: ProcessIndex) -> [Command] {
        guard rng.percent(15) else { return [] }
        var out: [Command] = []
        if let n = views[p].nodes.first(where: { $0.pendingWeakRef || $0.pendingStrongRef }) {
            out.append(n.pendingWeakRef ? .increfsDone(ptr: n.ptr, cookie: n.cookie) : .acquireDone(ptr: n.ptr, cookie: n.cookie))
        } else if let r = rng.pickOptional(views[p].refs) {
            out.append(rng.percent(50) ? .acquire(r.handle) : .increfs(r.handle))
        } else if let off = rng.pickOptional(freeable(p)) {
            out.append(.freeBuffer(bufferRef(p, offset: off)))
        }
        return out
    }

    // MARK: moves

    func publish() {
        let candidates = liveProcesses.filter { !views[$0].isContextManager }
        guard let p = rng.pickOptional(candidates), let t = callerThread(p, allowNested: false) else { return }
        var objects = [PayloadObject(gap: 0, binderObject(p))]
        if rng.percent(20) { objects.append(PayloadObject(gap: gap(), binderObject(p))) }
        let oneway = rng.percent(15)
        let tx = Transaction(handle: 0, code: 3, flags: extraFlags(oneway: oneway, targetFrozen: false),
                             payload: Payload(objects: objects, trailing: rng.pick([0, 8, 16, 32])))
        emit(p, t, writeRead(prefixCommands(p) + [.transaction(tx)], read: rng.percent(80)))
    }

    func call(nested: Bool) {
        var candidates = liveProcesses.filter { !views[$0].refs.isEmpty || (model.contextManagerExists && !views[$0].isContextManager) }
        if nested {
            let withIncoming = candidates.filter { p in views[p].threads.contains { $0.mustReply } }
            if !withIncoming.isEmpty { candidates = withIncoming }
        }
        guard let p = rng.pickOptional(candidates) else { return }
        let v = views[p]
        var handles: [UInt32] = v.refs.filter { $0.strong > 0 && !$0.nodeIsDead }.map(\.handle)
        if model.contextManagerExists, !v.isContextManager { handles.append(0) }
        var handle: UInt32
        if handles.isEmpty || rng.percent(8) {
            handle = rng.pickOptional(v.refs)?.handle ?? 0
        } else {
            // Nested calls prefer refs to the processes in the caller's chain: any ref works for routing.
            handle = rng.pick(handles)
        }
        var t: ThreadIndex
        if nested, let mt = (0..<procs[p].threadCount).filter({ threadView(p, $0)?.mustReply ?? false }).first {
            t = mt
        } else {
            guard let ct = callerThread(p, allowNested: true) else { return }
            t = ct
        }
        let targetOwner = v.refs.first { $0.handle == handle }?.nodeOwner
        let targetFrozen = targetOwner.map { procs[$0].frozen } ?? false
        let oneway = !nested && rng.percent(35)
        var commands = prefixCommands(p)
        let count = oneway && rng.percent(35) ? rng.int(2...4) : 1
        for _ in 0..<count {
            var tx = Transaction(handle: handle, code: rng.u32(1...8), flags: extraFlags(oneway: oneway, targetFrozen: targetFrozen),
                                 payload: payload(p))
            maybeScatterGather(&tx, sender: p)
            // Sometimes a oneway whose slot is exactly the target's free async space (the
            // boundary of the -ENOSPC rule, §8.3), or half of it when that is too big for one
            // payload, so that a few of them drain the async space (oneway spam detection).
            if oneway, let owner = targetOwner, rng.percent(25) {
                let free = views[owner].freeAsyncSpace
                if free >= 8 {
                    let size = free <= 4000 ? free : min(4000, free / 2)
                    tx = Transaction(handle: handle, code: 9, flags: TransactionFlags.oneWay, payload: Payload(trailing: UInt32(size)))
                }
            }
            commands.append(.transaction(tx))
        }
        _ = handle
        emit(p, t, writeRead(commands, read: rng.percent(75)))
    }

    func read() {
        let live = liveProcesses
        guard !live.isEmpty else { return }
        let withWork = live.filter { !readableThreads($0).isEmpty }
        let p: ProcessIndex
        let t: ThreadIndex
        if !withWork.isEmpty, rng.percent(88) {
            p = rng.pick(withWork)
            t = rng.pick(readableThreads(p))
        } else {
            p = rng.pick(live)
            t = randomThread(p)
        }
        var commands: [Command] = []
        if rng.percent(20) { commands += prefixCommands(p) }
        var wr = WriteRead(commands: commands, readSize: readSize())
        if rng.percent(4) {
            wr.readConsumed = rng.pick([4, 8, 16])
            wr.readSize = max(wr.readSize, wr.readConsumed + 160)
        }
        emit(p, t, .writeRead(wr))
    }

    func reply() {
        var options: [(ProcessIndex, ThreadIndex)] = []
        for p in liveProcesses {
            for tv in views[p].threads where tv.mustReply { options.append((p, tv.thread)) }
        }
        guard let (p, t) = rng.pickOptional(options) else { return }
        var commands: [Command] = []
        if rng.percent(60), let last = procs[p].received.indices.last {
            commands.append(.freeBuffer(.received(index: UInt32(last))))
        }
        var flags: UInt32 = rng.percent(5) ? TransactionFlags.statusCode : 0
        if rng.percent(4) { flags |= TransactionFlags.clearBuf }
        var tx = Transaction(handle: 0, code: 0, flags: flags, payload: payload(p, handles: 60, binders: 25))
        if views[p].isContextManager, let r = rng.pickOptional(views[p].refs.filter { $0.strong > 0 }), rng.percent(60) {
            tx.payload.objects = [PayloadObject(gap: 0, .handle(r.handle, flags: 0, weak: rng.percent(10)))]
        }
        maybeScatterGather(&tx, sender: p)
        commands.append(.reply(tx))
        if rng.percent(10) { commands.append(contentsOf: prefixCommands(p)) }
        emit(p, t, writeRead(commands, read: rng.percent(70)))
    }

    func freeBuffers() {
        let candidates = liveProcesses.filter { !freeable($0).isEmpty }
        guard let p = rng.pickOptional(candidates) else { return }
        var offsets = freeable(p)
        rng.shuffle(&offsets)
        let n = min(offsets.count, rng.weighted([0, 60, 25, 15]))
        let commands = offsets.prefix(n).map { Command.freeBuffer(bufferRef(p, offset: $0)) }
        emit(p, randomThread(p), writeRead(commands, read: rng.percent(25)))
    }

    func refOp() {
        let live = liveProcesses
        guard let p = rng.pickOptional(live) else { return }
        var commands: [Command] = []
        for _ in 0..<(rng.percent(30) ? 2 : 1) {
            if (model.contextManagerExists && !views[p].isContextManager && rng.percent(15)) || views[p].refs.isEmpty {
                commands.append(rng.percent(60) ? .acquire(0) : .increfs(0))
                continue
            }
            // Weak-only refs: BC_ACQUIRE / BC_RELEASE must be ignored on them (§6.1).
            let weakOnly = views[p].refs.filter { $0.strong == 0 && $0.weak > 0 }
            if let w = rng.pickOptional(weakOnly), rng.percent(40) {
                commands.append(rng.percent(60) ? .acquire(w.handle) : .release(w.handle))
                // A oneway call through it shows whether the ref stayed weak (BR_FAILED_REPLY).
                if rng.percent(50) {
                    commands.append(.transaction(Transaction(handle: w.handle, code: 7, flags: TransactionFlags.oneWay)))
                }
                continue
            }
            let r = rng.pick(views[p].refs)
            if r.strong > 0, r.weak == 0, rng.percent(20) {
                // Make it weak-only: take a weak count, drop the strong one.
                commands += [.increfs(r.handle), .release(r.handle)]
                continue
            }
            var ops: [Command] = [.increfs(r.handle), .acquire(r.handle)]
            if r.strong > 0 { ops.append(.release(r.handle)); ops.append(.release(r.handle)) }
            if r.weak > 0 { ops.append(.decrefs(r.handle)); ops.append(.decrefs(r.handle)) }
            commands.append(rng.pick(ops))
        }
        emit(p, randomThread(p), writeRead(commands, read: rng.percent(30)))
    }

    func nodeDone() {
        var options: [(ProcessIndex, ModelNodeView)] = []
        for p in liveProcesses {
            for n in views[p].nodes where n.pendingStrongRef || n.pendingWeakRef { options.append((p, n)) }
        }
        guard let (p, n) = rng.pickOptional(options) else { return }
        var commands: [Command] = []
        let c = rng.percent(4) ? n.cookie &+ 1 : n.cookie
        if n.pendingWeakRef { commands.append(.increfsDone(ptr: n.ptr, cookie: c)) }
        if n.pendingStrongRef, commands.isEmpty || rng.percent(70) { commands.append(.acquireDone(ptr: n.ptr, cookie: c)) }
        emit(p, randomThread(p), writeRead(commands, read: rng.percent(35)))
    }

    func death() {
        let live = liveProcesses
        let delivered = live.filter { !views[$0].deliveredDeathCookies.isEmpty }
        if !delivered.isEmpty, rng.percent(60) {
            let p = rng.pick(delivered)
            let c = rng.pick(views[p].deliveredDeathCookies)
            var commands: [Command] = [.deadBinderDone(cookie: c)]
            if rng.percent(30), let r = views[p].refs.first(where: { $0.deathCookie == c }) {
                commands.insert(.clearDeathNotification(handle: r.handle, cookie: c), at: 0)
            }
            emit(p, randomThread(p), writeRead(commands, read: rng.percent(50)))
            return
        }
        let withRefs = live.filter { !views[$0].refs.isEmpty }
        guard let p = rng.pickOptional(withRefs) else { return }
        let r = rng.pick(views[p].refs)
        let command: Command
        if let c = r.deathCookie, rng.percent(75) {
            command = .clearDeathNotification(handle: r.handle, cookie: rng.percent(5) ? c &+ 1 : c)
        } else {
            command = .requestDeathNotification(handle: r.handle, cookie: freshCookie())
        }
        emit(p, randomThread(p), writeRead([command], read: rng.percent(40)))
    }

    func kill() {
        let live = liveProcesses.filter { procs[$0].mapped && !procs[$0].dying }
        // Prefer processes whose death is observable: owners of nodes others watch for death,
        // or processes handling calls others wait on.
        let watched = live.filter { q in
            (0..<processCount).contains { o in views[o].refs.contains { $0.nodeOwner == q && $0.deathCookie != nil } }
        }
        let serving = live.filter { q in views[q].threads.contains { $0.mustReply } }
        let interesting = watched + serving
        guard let p = !interesting.isEmpty && rng.percent(60) ? rng.pick(interesting) : rng.pickOptional(live) else { return }
        deaths += 1
        procs[p].dying = true
        let t = randomThread(p)
        if rng.percent(50) {
            emit(p, t, .munmap)
            if rng.percent(50) { emit(p, t, .close); procs[p].dying = false }
        } else {
            emit(p, t, .close)
            if rng.percent(50) { emit(p, t, .munmap); procs[p].dying = false }
        }
    }

    func finishKill(_ dying: [ProcessIndex]) {
        if let p = dying.first(where: runner.hasParkedThread) {
            emit(p, 0, .exit)
            return
        }
        guard let p = rng.pickOptional(dying) else { return }
        let t = randomThread(p)
        if procs[p].open { emit(p, t, .close) }
        if procs[p].mapped { emit(p, t, .munmap) }
        procs[p].dying = false
    }

    func reopen(_ p: ProcessIndex) {
        procs[p].pages = mmapPages()
        // A lowered fd limit would make the open fail (-EMFILE) and the process's steps moot.
        if model.fdLimit(p) < FdRules.maxLimit { emit(p, 0, .fdLimit(FdRules.maxLimit)) }
        emit(p, 0, openAction())
        emit(p, 0, .mmap(pages: procs[p].pages, prot: MmapRules.protRead))
        if !model.contextManagerExists, rng.percent(40) { emit(p, 0, .setContextManager) }
        if rng.percent(30) { emit(p, rng.below(procs[p].threadCount), .setMaxThreads(rng.u32(0...3))) }
    }

    func threadExit() {
        // Prefer threads in the middle of a transaction.
        var options: [(ProcessIndex, ThreadIndex)] = []
        for p in liveProcesses {
            for tv in views[p].threads where tv.mustReply || tv.awaitingReply { options.append((p, tv.thread)) }
        }
        if let (p, t) = rng.pickOptional(options), rng.percent(70) {
            emit(p, t, .threadExit)
            return
        }
        guard let p = rng.pickOptional(liveProcesses) else { return }
        emit(p, randomThread(p), .threadExit)
    }

    func looper() {
        guard let p = rng.pickOptional(liveProcesses) else { return }
        let t = randomThread(p)
        switch rng.below(6) {
        case 0: emit(p, t, .setMaxThreads(rng.u32(0...4)))
        case 1: emit(p, t, writeRead([.registerLooper], read: rng.percent(60)))
        case 2, 3: emit(p, t, writeRead([.enterLooper], read: rng.percent(60)))
        case 4: emit(p, t, writeRead([.exitLooper], read: rng.percent(30)))
        default: emit(p, t, writeRead([.enterLooper, .exitLooper, .enterLooper], read: true))
        }
    }

    func introspect() {
        guard let p = rng.pickOptional(liveProcesses) else { return }
        let t = randomThread(p)
        switch rng.below(5) {
        case 0: emit(p, t, .getExtendedError)
        case 1:
            let ptr: UInt64 = views[p].nodes.isEmpty || rng.percent(40) ? 0 : rng.pick(views[p].nodes).ptr
            emit(p, t, .nodeDebugInfo(ptr: ptr))
        case 2:
            // Only the context manager may ask; others get -EPERM.
            let cm = liveProcesses.first { views[$0].isContextManager }
            let q = cm != nil && rng.percent(80) ? cm! : p
            let h = rng.pickOptional(views[q].refs)?.handle ?? rng.u32(0...3)
            emit(q, randomThread(q), .nodeInfoForRef(handle: h))
        case 3: emit(p, t, .frozenInfo(target: rng.below(processCount)))
        default: emit(p, t, .getExtendedError)
        }
    }

    /// BINDER_FREEZE with `timeout_ms`, preferably of a process with a call outstanding: a long
    /// timeout waits for the drain (a reply, a signal, an exit); a short one is followed by a
    /// sleep past it, so that it times out.
    func freezeWithTimeout(_ p: ProcessIndex, _ t: ThreadIndex) {
        let busy = liveProcesses.filter { q in q != p && views[q].threads.contains { $0.mustReply } }
        let q = rng.pickOptional(busy) ?? rng.below(processCount)
        let short = rng.percent(40)
        // Short: time out at the sleep right after (the model trusts no timeout under 1 s and no
        // step within 2 s of one). Long: never times out within a scenario, even on a slow VM.
        let timeout: UInt32 = short ? rng.pick([1000, 1500]) : 600_000
        let outcome = emit(p, t, .freeze(target: q, enable: 1, timeoutMs: timeout))
        if short, outcome.parked { emit(p, t, .sleep(milliseconds: timeout + 300)) }
    }

    func freezeMove() {
        guard let p = rng.pickOptional(liveProcesses) else { return }
        let t = randomThread(p)
        let frozen = (0..<processCount).filter { procs[$0].frozen }
        // Prefer finishing what is outstanding: acknowledge delivered notifications, clear requested ones.
        let choice = !procs[p].deliveredFreeze.isEmpty && rng.percent(40) ? 5
            : !procs[p].freezeRequests.isEmpty && rng.percent(25) ? 4 : rng.below(6)
        switch choice {
        case 0, 1:
            if let q = rng.pickOptional(frozen) { emit(p, t, .freeze(target: q, enable: 0)) }
            else if rng.percent(30) { freezeWithTimeout(p, t) }
            else { emit(p, t, .freeze(target: rng.below(processCount), enable: 1)) }
        case 2:
            emit(p, t, .frozenInfo(target: rng.below(processCount)))
        case 3:
            guard let r = rng.pickOptional(views[p].refs) else { return }
            let c = freshCookie()
            procs[p].freezeRequests.append((r.handle, c))
            emit(p, t, writeRead([.requestFreezeNotification(handle: r.handle, cookie: c)], read: rng.percent(50)))
        case 4:
            guard let (h, c) = rng.pickOptional(procs[p].freezeRequests) else { return }
            emit(p, t, writeRead([.clearFreezeNotification(handle: h, cookie: c)], read: rng.percent(50)))
        default:
            guard let c = rng.pickOptional(procs[p].deliveredFreeze) else { return }
            procs[p].deliveredFreeze.removeAll { $0 == c }
            emit(p, t, writeRead([.freezeNotificationDone(cookie: c)], read: rng.percent(50)))
        }
    }
}
