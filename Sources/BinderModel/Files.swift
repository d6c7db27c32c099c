import BinderUAPI

/// An open file (`struct file`) that an fd, a mapping or a queued fd fixup refers to.
final class OpenFile {
    enum Kind {
        /// The harness's own fds 0 to 2.
        case other
        /// A binder file: the proc `binder_open` created for it.
        case binder(Proc)
        /// A file the scenario created (`newFile`), numbered in creation order.
        case created(index: Int, kind: FileKind)
    }
    let kind: Kind
    /// References (`f_count`): fds, the binder mapping, `dup`s, queued fd fixups. A binder file
    /// whose count drops to 0 is released (`binder_release`).
    var refs = 0
    init(_ kind: Kind) { self.kind = kind }

    var binderProc: Proc? { if case let .binder(p) = kind { return p }; return nil }
}

/// A process's fd table (`struct files_struct`) and its `RLIMIT_NOFILE` soft limit. Every
/// scenario process starts with fds 0 to 2 open (the kernel oracle's guest processes have
/// exactly these: `/dev/null` twice and the console; the harness's own fds are at 1001 and up).
struct FdTable {
    static let initialFds = 3
    /// Index: fd number.
    var files: [OpenFile?] = (0..<FdTable.initialFds).map { _ in
        let f = OpenFile(.other); f.refs = 1; return f
    }
    var limit = Int(FdRules.maxLimit)

    subscript(fd: Int32) -> OpenFile? {
        fd >= 0 && Int(fd) < files.count ? files[Int(fd)] : nil
    }

    /// Mirrors `alloc_fd(0, rlimit(RLIMIT_NOFILE))`: the lowest free number below the limit.
    func lowestFree() -> Int32? {
        let free = files.firstIndex { $0 == nil } ?? files.count
        return free < limit ? Int32(free) : nil
    }

    /// Puts `file` at `fd` (`fd_install`); the caller moved one reference into the table.
    mutating func install(_ file: OpenFile, at fd: Int32) {
        while files.count <= Int(fd) { files.append(nil) }
        files[Int(fd)] = file
    }

    /// Takes the file out of `fd` (`file_close_fd`); the reference is the caller's now.
    mutating func remove(_ fd: Int32) -> OpenFile? {
        guard let f = self[fd] else { return nil }
        files[Int(fd)] = nil
        while let last = files.last, last == nil { files.removeLast() }
        return f
    }

    /// Open fds in increasing order.
    var openFds: [Int32] { files.indices.filter { files[$0] != nil }.map { Int32($0) } }
}

/// A file queued on a transaction for the receiver (`struct binder_txn_fd_fixup`): the file
/// reference `fget` took, and where in the target buffer its new fd number goes.
struct FdFixup {
    let file: OpenFile
    let offset: UInt64
}

extension BinderModel {
    // MARK: files of a process

    public func newFile(_ process: ProcessIndex, kind: FileKind) -> Int32 {
        call {
            // `pipe2` reserves two fds (read end, write end) or fails; the harness then closes
            // the write end. `memfd_create` reserves one.
            var table = slots[process].fds
            guard let fd = table.lowestFree() else { return Errno.EMFILE.negated }
            let file = OpenFile(.created(index: filesCreated, kind: kind))
            file.refs = 1
            table.install(file, at: fd)
            if kind == .pipe && table.lowestFree() == nil { return Errno.EMFILE.negated }
            slots[process].fds = table
            filesCreated += 1
            return fd
        }
    }

    public func closeFd(_ process: ProcessIndex, fd: Int32) -> Int32 {
        call { closeFile(process, fd) ? 0 : Errno.EBADF.negated }
    }

    public func fileIdentity(_ process: ProcessIndex, fd: Int32) -> FileIdentity {
        guard let f = slots[process].fds[fd] else { return .none }
        switch f.kind {
        case .other: return .other
        case .binder: return fd == slots[process].binderFd ? .ownBinder : .binder
        case let .created(i, kind): return .file(index: i, kind: kind)
        }
    }

    public func setFdLimit(_ process: ProcessIndex, limit: UInt32) -> Int32 {
        slots[process].fds.limit = Int(min(limit, FdRules.maxLimit))
        return 0
    }

    /// `close(fd)` (`close_fd` → `filp_close`): a binder file is flushed (`binder_flush`) on
    /// every close; then its reference goes (`fput`), at once or, for `binder_deferred_fd_close`,
    /// as task work when the call returns. False when `fd` is not open.
    @discardableResult
    func closeFile(_ process: ProcessIndex, _ fd: Int32, putOnReturn: Bool = false) -> Bool {
        guard let f = slots[process].fds.remove(fd) else { return false }
        if fd == slots[process].binderFd { slots[process].binderFd = nil }
        if let proc = f.binderProc { flush(proc) }
        if putOnReturn { deferredFputs.append(f) } else { fput(f) }
        return true
    }

    /// Drops one reference to `file`; the last one of a binder file releases its proc
    /// (`binder_release`, then `binder_deferred_release`, run at once).
    func fput(_ file: OpenFile) {
        file.refs -= 1
        if file.refs == 0, let proc = file.binderProc { releaseProc(proc) }
    }

    /// Mirrors `exit_files`: every fd closes, in increasing order.
    func exitFiles(_ process: ProcessIndex) {
        for fd in slots[process].fds.openFds { closeFile(process, fd) }
    }

    // MARK: fd passing

    /// Mirrors `binder_translate_fd` (the sender's side): the target must accept fds (a reply:
    /// the call's `TF_ACCEPT_FDS`; a call: the node's `accept_fds`), then `fget` takes a
    /// reference that a fixup queued on the transaction keeps until the receiver reads it.
    func translateFD(_ fd: UInt32, offset: UInt64, _ t: Transaction, _ sender: Proc, inReplyTo: Transaction?) -> Int32 {
        let allows = inReplyTo.map { $0.flags & TransactionFlags.acceptFDs != 0 } ?? (t.buffer?.targetNode?.acceptFDs ?? false)
        if !allows { return Errno.EPERM.negated }
        guard let file = slots[sender.index].fds[Int32(bitPattern: fd)] else { return Errno.EBADF.negated }
        file.refs += 1
        t.fdFixups.append(FdFixup(file: file, offset: offset))
        return 0
    }

    /// Mirrors `binder_free_txn_fixups`: the queued files' references go.
    func freeFdFixups(_ t: Transaction) {
        let fixups = t.fdFixups
        t.fdFixups = []
        for f in fixups { fput(f.file) }
    }

    /// Mirrors `binder_apply_fd_fixups` (the receiver's read): each queued file gets the lowest
    /// free fd of the reading process (`get_unused_fd_flags`), written into the buffer at the
    /// fixup's offset; all of them or none. False when an fd could not be had or its number not
    /// written: the files go and the table is as it was.
    func applyFdFixups(_ proc: Proc, _ t: Transaction) -> Bool {
        guard !t.fdFixups.isEmpty, let b = t.buffer else { return true }
        var table = slots[proc.index].fds
        for fixup in t.fdFixups {
            var bytes: [UInt8] = []
            guard let fd = table.lowestFree() else { freeFdFixups(t); return false }
            bytes.appendLE32(UInt32(bitPattern: fd))
            guard copyToBuffer(proc, b, fixup.offset, bytes) else { freeFdFixups(t); return false }
            table.install(fixup.file, at: fd)
        }
        // The references move from the fixups to the fds.
        t.fdFixups = []
        slots[proc.index].fds = table
        return true
    }
}
