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
enum ChildOp: UInt8 {
    case open = 0, mmap, munmap, close, ioctl, writeUser, readUser, readMapping, pid, exit
    case poll, signal, flushDuplicate, settle
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

struct ChildReply {
    var result: Int64
    var payload: [UInt8] = []
    var bytes: [UInt8] {
        var out: [UInt8] = []
        out.appendLE64(UInt64(bitPattern: result)); out.appendLE32(UInt32(payload.count))
        return out + payload
    }
    static let headerSize = 12
}
