import BinderModel
import BinderUAPI

let S = UserMemoryLayout.scratchBase
let bwrAddr = S
let writeAddr = S + 0x100
let readAddr = S + 0x1000
let dataAddr = S + 0x2000
let offsAddr = S + 0x3000
let argAddr = S + 0x80

func bc(_ c: BinderCommand) -> [UInt8] { var b: [UInt8] = []; b.appendLE32(c.rawValue); return b }
func bc32(_ c: BinderCommand, _ v: UInt32) -> [UInt8] { var b = bc(c); b.appendLE32(v); return b }
func bc64(_ c: BinderCommand, _ v: UInt64) -> [UInt8] { var b = bc(c); b.appendLE64(v); return b }
func bcPtrCookie(_ c: BinderCommand, _ p: UInt64, _ k: UInt64) -> [UInt8] { var b = bc(c); b.appendLE64(p); b.appendLE64(k); return b }
func bcHandleCookie(_ c: BinderCommand, _ h: UInt32, _ k: UInt64) -> [UInt8] { var b = bc(c); b.appendLE32(h); b.appendLE64(k); return b }
func bcTxn(_ c: BinderCommand, _ tr: TransactionData) -> [UInt8] { bc(c) + tr.bytes }

struct ReadResult { var ret: Int32; var bwr: BinderWriteRead; var codes: [UInt32]; var bytes: [UInt8] }

/// Decodes BR codes from read bytes.
func decode(_ b: [UInt8]) -> [UInt32] {
    var out: [UInt32] = []; var o = 0
    while o + 4 <= b.count {
        let c = b.le32(at: o); out.append(c); o += 4
        o += BinderReturn(rawValue: c).wirePayloadSize
    }
    return out
}

@discardableResult
func wr(_ m: BinderModel, _ p: Int, _ t: Int, _ write: [UInt8], readSize: UInt64 = 256) -> ReadResult {
    m.writeUser(p, address: writeAddr, bytes: write)
    let bwr = BinderWriteRead(writeSize: UInt64(write.count), writeBuffer: writeAddr, readSize: readSize, readBuffer: readAddr)
    m.writeUser(p, address: bwrAddr, bytes: bwr.bytes)
    let r = m.ioctl(p, thread: t, command: BinderIoctl.writeRead.rawValue, argument: bwrAddr)
    let out = BinderWriteRead(bytes: m.readUser(p, address: bwrAddr, count: 48))
    let bytes = m.readUser(p, address: readAddr, count: Int(out.readConsumed))
    return ReadResult(ret: r, bwr: out, codes: decode(bytes), bytes: bytes)
}

func version(_ m: BinderModel, _ p: Int, _ t: Int) -> Int32 {
    m.ioctl(p, thread: t, command: BinderIoctl.version.rawValue, argument: argAddr)
}

/// Opens and maps `count` processes and pre-creates thread 0 of each.
func makeModel(_ count: Int, size: UInt64 = 1 << 20) -> BinderModel {
    let m = BinderModel(processCount: count)
    for p in 0..<count {
        _ = m.open(p, blocking: false)
        _ = m.mmap(p, length: size, prot: MmapRules.protRead)
        _ = version(m, p, 0)
    }
    return m
}

func setCtxMgr(_ m: BinderModel, _ p: Int) -> Int32 {
    m.ioctl(p, thread: 0, command: BinderIoctl.setContextMgr.rawValue, argument: argAddr)
}

let NOOP = BinderReturn.noop.rawValue
let TC = BinderReturn.transactionComplete.rawValue
