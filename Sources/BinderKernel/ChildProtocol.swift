import BinderUAPI

/// Requests the controller sends to a scenario process's child over its stdin pipe.
/// Frame: op u8, thread u8, a u64, b u64, payload length u32, payload.
/// Reply: result i64, payload length u32, payload.
enum ChildOp: UInt8 {
    case open = 0, mmap, munmap, close, ioctl, writeUser, readUser, readMapping, pid, exit
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
