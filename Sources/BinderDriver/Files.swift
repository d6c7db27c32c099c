import BinderUAPI

/// An open file description (`struct file`): what fds, the binder mapping's `vm_file` and the
/// fd fixups queued on transactions refer to.
final class OpenFile {
    enum Object {
        /// One of the harness's own fds 0 to 2.
        case inherited
        /// A binder file: the proc `binder_open` made for it (`file->private_data`).
        case binder(Proc)
        /// A file the scenario made (`newFile`), numbered in creation order across processes.
        case created(index: Int, kind: FileKind)
    }
    let object: Object
    /// `f_count`: fds (in any process), the mapping, queued fixups and pending task-work fputs.
    /// The last `fput` of a binder file releases its proc (`binder_release`).
    var count = 1
    init(_ object: Object) { self.object = object }

    var binderProc: Proc? { if case let .binder(p) = object { return p }; return nil }
}

/// `struct binder_txn_fd_fixup`: the file reference `fget` took for the receiver, and the buffer
/// offset of the 4-byte slot its new fd number goes to.
struct FdFixup {
    let file: OpenFile
    let offset: UInt64
}

/// A process's `struct files_struct`: the `fd[]` array, the `open_fds` bitmap, the `next_fd`
/// hint of `alloc_fd`, and the `RLIMIT_NOFILE` soft limit. A number can be reserved (its bit
/// set, no file yet), as between `get_unused_fd_flags` and `fd_install`. Every process starts
/// with fds 0 to 2 open, as the kernel oracle's guest processes do.
struct FdTable {
    static let inheritedFds = 3
    private(set) var files: [OpenFile?]
    private var openBits: [UInt64] = [0]
    /// Every number below it is open or reserved (`files->next_fd`).
    private var nextFd = 0
    var limit = Int(FdRules.maxLimit)

    init() {
        files = []
        for _ in 0..<FdTable.inheritedFds {
            let fd = reserve()!
            install(OpenFile(.inherited), at: fd)
        }
    }

    /// The file at `fd` (`files_lookup_fd_raw`); nil for a free or merely reserved number.
    subscript(fd: Int32) -> OpenFile? {
        fd >= 0 && Int(fd) < files.count ? files[Int(fd)] : nil
    }

    /// `find_next_fd`: the first clear bit at or after `start`.
    private func firstFree(from start: Int) -> Int {
        var w = start >> 6
        guard w < openBits.count else { return start }
        var free = ~openBits[w] & (~UInt64(0) << UInt64(start & 63))
        while free == 0 {
            w += 1
            if w == openBits.count { return w << 6 }
            free = ~openBits[w]
        }
        return w << 6 + free.trailingZeroBitCount
    }

    /// `alloc_fd(0, rlimit(RLIMIT_NOFILE))` without taking the number: the lowest free fd below
    /// the soft limit, or nil (-EMFILE).
    func lowestFree() -> Int32? {
        let fd = firstFree(from: nextFd)
        return fd < limit ? Int32(fd) : nil
    }

    /// `get_unused_fd_flags`: reserves the lowest free number below the limit.
    mutating func reserve() -> Int32? {
        guard let fd = lowestFree() else { return nil }
        let i = Int(fd)
        while openBits.count <= i >> 6 { openBits.append(0) }
        openBits[i >> 6] |= UInt64(1) << UInt64(i & 63)
        nextFd = i + 1
        return fd
    }

    /// `put_unused_fd`: gives a reserved number back.
    mutating func unreserve(_ fd: Int32) {
        guard fd >= 0, Int(fd) >> 6 < openBits.count, self[fd] == nil else { return }
        release(Int(fd))
    }

    /// `fd_install` of a reserved number; the caller's file reference moves into the table.
    mutating func install(_ file: OpenFile, at fd: Int32) {
        let i = Int(fd)
        if files.count <= i { files.append(contentsOf: repeatElement(nil, count: i + 1 - files.count)) }
        files[i] = file
    }

    /// `file_close_fd`: takes the file out of `fd`; its reference is the caller's now.
    mutating func remove(_ fd: Int32) -> OpenFile? {
        guard let f = self[fd] else { return nil }
        files[Int(fd)] = nil
        release(Int(fd))
        return f
    }

    private mutating func release(_ i: Int) {
        openBits[i >> 6] &= ~(UInt64(1) << UInt64(i & 63))
        if i < nextFd { nextFd = i }
    }

    /// The open fds, ascending (the `close_files` walk of `exit_files`).
    var openFds: [Int32] {
        var fds: [Int32] = []
        for (w, word) in openBits.enumerated() {
            var bits = word
            while bits != 0 {
                let fd = Int32(w << 6 + bits.trailingZeroBitCount)
                bits &= bits - 1
                if self[fd] != nil { fds.append(fd) }
            }
        }
        return fds
    }

    /// The bitmap marks exactly the installed fds (no reservation outlives a call) and the hint
    /// is a lower bound of the free numbers.
    func check() -> String? {
        for (w, word) in openBits.enumerated() {
            for b in 0..<64 {
                let fd = w << 6 + b
                let bit = word & (UInt64(1) << UInt64(b)) != 0
                let present = fd < files.count && files[fd] != nil
                if bit != present { return bit ? "fd \(fd) reserved but not installed" : "fd \(fd) installed but not in open_fds" }
                if !bit && fd < nextFd { return "next_fd \(nextFd) above free fd \(fd)" }
            }
        }
        if files.count > openBits.count << 6 { return "fd array beyond the bitmap" }
        return nil
    }
}

extension BinderDriver {
    // MARK: a process's files

    /// `pipe2` (keeping the read end: the harness closes the write end once the content is in)
    /// or `memfd_create`. `pipe2` needs both numbers below the limit (`get_unused_fd_flags`
    /// twice) or makes nothing.
    public func newFile(_ process: ProcessIndex, kind: FileKind) -> Int32 {
        guard procs.indices.contains(process) else { return -Errno.EBADF.rawValue }
        let sp = procs[process]
        guard let fd = sp.fds.reserve() else { return -Errno.EMFILE.rawValue }
        if kind == .pipe {
            guard let writeEnd = sp.fds.reserve() else {
                sp.fds.unreserve(fd)
                return -Errno.EMFILE.rawValue
            }
            sp.fds.unreserve(writeEnd)
        }
        sp.fds.install(OpenFile(.created(index: filesCreated, kind: kind)), at: fd)
        filesCreated += 1
        return fd
    }

    /// `close(fd)` of any fd but the process's own binder fd.
    public func closeFd(_ process: ProcessIndex, fd: Int32) -> Int32 {
        guard procs.indices.contains(process) else { return -Errno.EBADF.rawValue }
        return call { closeFile(process, fd) ? 0 : -Errno.EBADF.rawValue }
    }

    public func fileIdentity(_ process: ProcessIndex, fd: Int32) -> FileIdentity {
        guard procs.indices.contains(process) else { return .none }
        let sp = procs[process]
        guard let f = sp.fds[fd] else { return .none }
        switch f.object {
        case .inherited: return .other
        case .binder: return fd == sp.binderFd ? .ownBinder : .binder
        case let .created(index, kind): return .file(index: index, kind: kind)
        }
    }

    /// `setrlimit(RLIMIT_NOFILE)`: fds already above the new limit stay open.
    public func setFdLimit(_ process: ProcessIndex, limit: UInt32) -> Int32 {
        guard procs.indices.contains(process) else { return -Errno.EINVAL.rawValue }
        procs[process].fds.limit = Int(min(limit, FdRules.maxLimit))
        return 0
    }

    /// `close_fd` → `filp_close` (`binder_flush` for a binder file, on every close) → `fput`,
    /// at once or, for `binder_deferred_fd_close`, as task work when the call returns
    /// (`runTaskWork`). False when `fd` is not open.
    @discardableResult
    func closeFile(_ process: ProcessIndex, _ fd: Int32, putOnReturn: Bool = false) -> Bool {
        let sp = procs[process]
        guard let f = sp.fds.remove(fd) else { return false }
        if fd == sp.binderFd { sp.binderFd = nil }
        if let p = f.binderProc { flush(p) }
        if putOnReturn { pendingFputs.append(f) } else { fput(f) }
        return true
    }

    /// `fput`: the last reference of a binder file releases its proc (`binder_release` →
    /// `binder_deferred_release`, run at once).
    func fput(_ f: OpenFile) {
        f.count -= 1
        if f.count == 0, let p = f.binderProc { release(p) }
    }

    /// The task work queued by `binder_deferred_fd_close`, run on the way back to user space:
    /// the final `fput` of each file an FDA release closed, in close order.
    func runTaskWork() {
        var i = 0
        while i < pendingFputs.count {
            fput(pendingFputs[i])
            i += 1
        }
        pendingFputs.removeAll(keepingCapacity: true)
    }

    /// `exit_files` → `close_files`: every fd closes, in increasing order.
    func exitFiles(_ process: ProcessIndex) {
        for fd in procs[process].fds.openFds { closeFile(process, fd) }
    }

    // MARK: fd passing

    /// `binder_translate_fd` (sender side): the receiver must accept fds (a reply: the call's
    /// `TF_ACCEPT_FDS`; a call: the target node's `accept_fds`), else -EPERM; then `fget` in the
    /// sender's table (-EBADF) takes the reference a fixup appended to `t->fd_fixups` keeps
    /// until the receiver reads the transaction.
    func translateFD(_ fd: UInt32, offset: UInt64, _ t: Transaction, sender: Proc, inReplyTo: Transaction?, targetNode: Node?) -> Int32 {
        var accepts: Bool
        if let irt = inReplyTo { accepts = irt.flags & TransactionFlags.acceptFDs != 0 } else { accepts = targetNode?.acceptFDs ?? false }
        #if BINDER_MUTANTS
        if Mutant.active == .replyFdsAlwaysAccepted, inReplyTo != nil { accepts = true }
        #endif
        guard accepts else { return -Errno.EPERM.rawValue }
        guard let file = procs[sender.index].fds[Int32(bitPattern: fd)] else { return -Errno.EBADF.rawValue }
        file.count += 1
        t.fdFixups.append(FdFixup(file: file, offset: offset))
        return 0
    }

    /// `binder_free_txn_fixups`: the queued files' references go, in list order.
    func freeFdFixups(_ t: Transaction) {
        guard !t.fdFixups.isEmpty else { return }
        let fixups = t.fdFixups
        t.fdFixups = []
        for f in fixups { fput(f.file) }
    }

    /// `binder_apply_fd_fixups` (receiver side, before any BR code is written). Pass 1 reserves
    /// the lowest free fd of the reader for each fixup in list order (`get_unused_fd_flags`; an
    /// earlier reservation counts as taken) and writes it into the buffer slot; pass 2 installs
    /// them all. On failure every reservation is given back and every file put
    /// (`binder_free_txn_fixups`): the reader's table is as it was. Returns false then.
    func applyFdFixups(_ p: Proc, _ t: Transaction) -> Bool {
        guard !t.fdFixups.isEmpty else { return true }
        let sp = procs[p.index]
        var reserved: [Int32] = []
        reserved.reserveCapacity(t.fdFixups.count)
        var ok = true
        for fixup in t.fdFixups {
            guard let fd = sp.fds.reserve() else { ok = false; break }
            reserved.append(fd)
            var le = [UInt8](); le.appendLE32(UInt32(bitPattern: fd))
            if !bufWrite(p, t.buffer, fixup.offset, le) { ok = false; break }
        }
        guard ok else {
            #if BINDER_MUTANTS
            if Mutant.active == .fdFixupKeepsPartial {
                for (fixup, fd) in zip(t.fdFixups, reserved) { fixup.file.count += 1; sp.fds.install(fixup.file, at: fd) }
            }
            #endif
            for fd in reserved where sp.fds[fd] == nil { sp.fds.unreserve(fd) }
            freeFdFixups(t)
            return false
        }
        // The references move from the fixups into the table.
        for (fixup, fd) in zip(t.fdFixups, reserved) { sp.fds.install(fixup.file, at: fd) }
        t.fdFixups = []
        return true
    }

    /// The BINDER_TYPE_FDA case of `binder_transaction_buffer_release` (not on failure: those
    /// fds were never installed): the parent and bounds are validated again from the buffer (a
    /// bad one is skipped), then each fd number read from the buffer is closed in `closer`'s
    /// process, which must go back to user space (`looper_need_return`) to finish the closes.
    func closeFDArray(_ p: Proc, _ b: Int32, _ fda: [UInt8], offStart: UInt64, numValid: UInt64, closer: Thread) {
        #if BINDER_MUTANTS
        if Mutant.active == .fdaFdsStayOpen { return }
        #endif
        guard let (parent, _) = validatePtr(p, b, index: fda.le64(at: 16), offStart: offStart, numValid: numValid) else { return }
        let num = fda.le64(at: 8), poff = fda.le64(at: 24), plen = parent.le64(at: 16)
        let (size, ov) = num.multipliedReportingOverflow(by: 4)
        if ov || num >= UInt64.max / 4 || size > plen || poff > plen - size { return }
        let fdaOffset = parent.le64(at: 8) &- (p.mapBase &+ UInt64(p.alloc.blocks[Int(b)].start)) &+ poff
        var i: UInt64 = 0
        while i < num {
            defer { i += 1 }
            guard checkBuffer(p, b, fdaOffset &+ 4 &* i, 4), let raw = bufRead(p, b, fdaOffset &+ 4 &* i, 4) else { continue }
            // binder_deferred_fd_close: the closer's fd, whatever file it holds now.
            closeFile(closer.proc.index, Int32(bitPattern: raw.le32(at: 0)), putOnReturn: true)
            closer.looperNeedReturn = true
        }
    }

    // MARK: invariants

    /// Fd tables are consistent, a process's binder fd holds its current proc's file, every
    /// unreleased proc's file is held, and every file's `f_count` equals its holders: fds (in any
    /// process), the mapping, queued fixups and pending task work.
    func checkFiles() -> String? {
        var seen: [OpenFile] = []
        var holders: [ObjectIdentifier: Int] = [:]
        func hold(_ f: OpenFile) {
            let k = ObjectIdentifier(f)
            if let n = holders[k] { holders[k] = n + 1 } else { holders[k] = 1; seen.append(f) }
        }
        for (i, sp) in procs.enumerated() {
            if let e = sp.fds.check() { return "process \(i): \(e)" }
            for fd in sp.fds.openFds { hold(sp.fds[fd]!) }
            if let fd = sp.binderFd {
                guard let p = sp.proc, let f = sp.fds[fd], f.binderProc === p, p.file === f else {
                    return "process \(i): binder fd \(fd) does not hold its proc's file"
                }
            }
            if sp.mapped {
                guard let f = sp.proc?.file else { return "process \(i): mapped without a proc" }
                hold(f)
            }
            if let p = sp.proc, sp.openProcs.last !== p { return "process \(i): current proc is not its newest open one" }
        }
        for t in allTransactions { for fx in t.fdFixups { hold(fx.file) } }
        for f in pendingFputs { hold(f) }
        for f in seen {
            let n = holders[ObjectIdentifier(f)]!
            if f.count != n { return "file with f_count \(f.count) has \(n) holders" }
            if let p = f.binderProc, p.isDead { return "file of released proc \(p.index) still held" }
        }
        for (i, sp) in procs.enumerated() {
            for p in sp.openProcs {
                if p.isDead { return "process \(i): released proc still listed as open" }
                guard let f = p.file, holders[ObjectIdentifier(f)] != nil else { return "process \(i): unreleased proc with no file reference" }
            }
        }
        return nil
    }
}
