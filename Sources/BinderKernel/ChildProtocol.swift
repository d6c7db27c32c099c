import BinderUAPI

/// Requests the controller sends to a scenario process's child over its stdin pipe.
/// Frame: op u8, thread u8, a u64, b u64, payload length u32, payload.
/// Reply: result i64, payload length u32, payload.
///
/// - `open`: a = 1 for a blocking fd (no `O_NONBLOCK`).
/// - `ioctl` (a = command, b = argument) and `poll` (a = 1 when blocking) run on the thread's
///   worker; the reply's result is the call's, or `BinderCall.parked` when the worker went to
///   sleep in the system call (it stays there, its result comes from a later `settle`).
/// - `signal`: a = 1 for the `SA_RESTART` signal (SIGUSR2), else SIGUSR1; waits until a parked
///   worker is done or asleep in its call again.
/// - `flushDuplicate`: `dup` + `close` of the binder fd; waits until every worker parked in a
///   BINDER_WRITE_READ has returned (or went back to sleep after a wakeup). Reply payload: one byte, 1 when
///   some parked worker showed that the deferred flush ran.
/// - `settle`: waits until every parked worker is done or asleep in its call again; the reply's
///   result is the number of finished ones, its payload (thread u8, result i32 LE) per finished
///   worker, which the child then forgets.
/// - `exit`: the child answers, then `_exit(0)`, whatever its workers are doing.
/// - `open`: b = the binder file's tag (`F_SETSIG` value, 1 to 64, see `BinderFileReport`).
/// - `newFile`: a = `FileKind` raw value; result: the fd or -errno; payload: st_dev u64,
///   st_ino u64 of the new file.
/// - `closeFd`: a = fd; result 0 or -EBADF (harness fds count as not open).
/// - `fileIdentity`: a = fd; result 0 or -EBADF; payload: what (u8: 0 other, 1 the process's
///   own binder fd, 2 another binder file, 3 anything else with identity), st_dev u64, st_ino u64.
/// - `setFdLimit`: a = the `RLIMIT_NOFILE` soft limit; result 0 or -errno.
enum ChildOp: UInt8 {
    case open = 0, mmap, munmap, close, ioctl, writeUser, readUser, readMapping, pid, exit
    case poll, signal, flushDuplicate, settle
    case newFile, closeFd, fileIdentity, setFdLimit
}

/// Which binder files a child's fds refer to, sent with the replies of requests that may change
/// them (open, close, ioctl, settle, closeFd). Each binder file the scenario opens is tagged
/// with a small number (`F_SETSIG`, which binder never uses: it has no `fasync`), so that the
/// controller can count the distinct binder files alive (each keeps its proc) and tell which
/// of them some fd close flushed, also when fds of binder files travelled in transactions.
struct BinderFileReport: Equatable {
    /// Tags of the binder files the child's fds (below the harness range) refer to.
    var held: Set<UInt8> = []
    /// Tags of binder files whose fd closed since the last report (a close of a binder fd calls
    /// `binder_flush` of that file's proc, a workqueue item).
    var closed: Set<UInt8> = []

    var bytes: [UInt8] {
        [UInt8(held.count)] + held.sorted() + [UInt8(closed.count)] + closed.sorted()
    }

    init(held: Set<UInt8> = [], closed: Set<UInt8> = []) { self.held = held; self.closed = closed }

    init?(_ bytes: [UInt8]) {
        guard let n = bytes.first, bytes.count >= 1 + Int(n) + 1 else { return nil }
        held = Set(bytes[1..<(1 + Int(n))])
        let m = Int(bytes[1 + Int(n)])
        guard bytes.count >= 2 + Int(n) + m else { return nil }
        closed = Set(bytes[(2 + Int(n))..<(2 + Int(n) + m)])
    }
}

struct ChildRequest {
    var op: ChildOp
    var thread: UInt8 = 0
    var a: UInt64 = 0
    var b: UInt64 = 0
    var payload: [UInt8] = []

    var bytes: [UInt8] {
        var out: [UInt8] = [op.rawValue, thread]
        out.appendLE64(a); out.appendLE64(b); out.appendLE32(UInt32(payload.count))
        return out + payload
    }
    static let headerSize = 22
}

/// Reply frame: result i64, payload length u32, report length u32 (0: no report), payload,
/// report.
struct ChildReply {
    var result: Int64
    var payload: [UInt8] = []
    var files: BinderFileReport? = nil
    var bytes: [UInt8] {
        let report = files?.bytes ?? []
        var out: [UInt8] = []
        out.appendLE64(UInt64(bitPattern: result)); out.appendLE32(UInt32(payload.count)); out.appendLE32(UInt32(report.count))
        return out + payload + report
    }
    static let headerSize = 16
}
