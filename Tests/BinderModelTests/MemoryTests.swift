import Testing
@testable import BinderModel
import BinderUAPI

/// The model's object graph is cyclic; releasing a `BinderModel` must free all of it
/// (libFuzzer runs thousands of models per process).
@Suite struct MemoryTests {
    struct WeakBox { weak var object: AnyObject?; let name: String }

    /// Drives a model through transactions, replies, death notifications and proc deaths
    /// (leaving dead nodes held by refs and transactions whose sender or target died), then
    /// returns weak references to every object it allocated.
    func exercisedModelObjects() -> [WeakBox] {
        let m = makeModel(4)
        #expect(setCtxMgr(m, 0) == 0)
        wr(m, 0, 0, bc(.enterLooper), readSize: 0)
        // P1 sends a oneway carrying its own node; P0 keeps the handle and a death notification.
        let obj = FlatBinderObject(type: .binder, binderOrHandle: 0x1000, cookie: 0x2000)
        m.writeUser(1, address: dataAddr, bytes: obj.bytes)
        var offs: [UInt8] = []; offs.appendLE64(0)
        m.writeUser(1, address: offsAddr, bytes: offs)
        wr(m, 1, 0, bcTxn(.transaction, TransactionData(target: 0, code: 7, flags: TransactionFlags.oneWay,
                                                      dataSize: 24, offsetsSize: 8, buffer: dataAddr, offsets: offsAddr)))
        let rm = wr(m, 0, 0, [])
        let td = TransactionData(bytes: rm.bytes, at: 8)
        wr(m, 0, 0, bc32(.acquire, 1) + bcHandleCookie(.requestDeathNotification, 1, 0xDEAD), readSize: 0)
        // P2 calls P0 and is left waiting; P3 calls P1 and is left waiting.
        wr(m, 2, 0, bcTxn(.transaction, TransactionData(target: 0, code: 1, dataSize: 8, buffer: dataAddr, offsets: offsAddr)))
        wr(m, 3, 0, bc32(.increfs, 0), readSize: 0)
        wr(m, 3, 1, bcTxn(.transaction, TransactionData(target: 0, code: 2, dataSize: 8, buffer: dataAddr, offsets: offsAddr)))
        // P1 dies: its node stays alive (dead) through P0's ref, the death is queued to P0.
        _ = m.close(1); _ = m.munmap(1)
        // P2 dies while its call is still queued at P0.
        _ = m.close(2); _ = m.munmap(2)
        // P0 keeps the first buffer, reads some of the rest, and thread 2 exits mid-call.
        _ = td
        wr(m, 0, 1, [])
        _ = m.ioctl(0, thread: 1, command: BinderIoctl.threadExit.rawValue, argument: 0)
        #expect(m.checkInvariants() == nil)

        var boxes: [WeakBox] = []
        func add(_ o: AnyObject, _ name: String) { boxes.append(WeakBox(object: o, name: name)) }
        for o in m.allocated { add(o, "\(type(of: o))") }
        for case let p as Proc in m.allocated {
            add(p.alloc, "Allocator")
            for b in p.alloc.blocks { add(b, "Buffer") }
            for l in [p.todo, p.deliveredDeath, p.deliveredFreeze] { add(l, "WorkList"); for w in l.items { add(w, "Work") } }
        }
        for case let t as Thread in m.allocated { for w in t.todo.items { add(w, "Work") } }
        #expect(m.allocated.contains { $0 is Transaction })
        #expect(!m.deadNodes.isEmpty)
        return boxes
    }

    @Test func releasingTheModelFreesEverything() {
        let boxes = exercisedModelObjects()
        #expect(boxes.count > 20)
        let leaked = boxes.filter { $0.object != nil }.map(\.name)
        #expect(leaked.isEmpty, "leaked: \(leaked)")
    }
}
