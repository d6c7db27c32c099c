import BinderHarness
import BinderUAPI
import Testing

@Suite struct OperandRemapTests {
    static func send(_ ptr: UInt64) -> Command {
        .transaction(Transaction(handle: 0, payload: Payload(objects: [PayloadObject(.binder(ptr: ptr, cookie: ptr, flags: 0, weak: false))])))
    }

    /// Two threads of P1 send nodes A and B to the context manager P0 in two calls; P0's two
    /// threads read one each; P0 then acts on B's handle and frees the buffer that carried B.
    static let original = Scenario(processCount: 2, steps: [
        Step(0, 0, .open), Step(0, 0, .mmap(pages: 1, prot: 1)), Step(0, 0, .setContextManager),
        Step(1, 0, .open), Step(1, 0, .mmap(pages: 1, prot: 1)),
        Step(1, 0, .writeRead(WriteRead(commands: [send(0xA0)]))),
        Step(1, 1, .writeRead(WriteRead(commands: [send(0xB0)]))),
        Step(0, 0, .writeRead(WriteRead(readSize: 256))),
        Step(0, 1, .writeRead(WriteRead(readSize: 256))),
        Step(0, 0, .writeRead(WriteRead(commands: [.acquire(2), .freeBuffer(.received(index: 1))]))),
    ])

    @Test("deleting the call that created a ref renumbers later handles and received buffers")
    func remapAfterDeletion() throws {
        let original = OperandRemap.Original(Self.original)
        // Without step 5 (node A) and step 7 (the read of A), B is handle 1 and received#0.
        let kept = [0, 1, 2, 3, 4, 6, 8, 9]
        let plain = Scenario(processCount: 2, steps: kept.map { Self.original.steps[$0] })
        let remapped = original.remap(plain, kept: kept)
        guard case let .writeRead(wr) = remapped.steps.last!.action else { Issue.record("not a write-read"); return }
        #expect(wr.commands == [.acquire(1), .freeBuffer(.received(index: 0))])
        // Nothing deleted: nothing changes.
        #expect(original.remap(Self.original, kept: Array(Self.original.steps.indices)) == Self.original)
    }

    @Test("shrink candidates include renumbered deletions, merged write-reads, thread and process merges; every one is smaller")
    func candidatesAreSmaller() {
        var s = Self.original
        s.steps[9].thread = 2
        let all = ShrinkMoves.candidates(s).map(\.scenario)
        #expect(all.allSatisfy { ShrinkMoves.smaller($0, than: s) })
        #expect(all.contains { c in
            guard c.steps.count == s.steps.count - 1, case let .writeRead(wr) = c.steps.last!.action else { return false }
            return wr.commands == [.acquire(1), .freeBuffer(.received(index: 1))]
        })
        #expect(all.contains { $0.steps.count == s.steps.count && $0.steps[9].thread == 0 })
        // P1.T0's two write-reads (steps 5 and 6 once P1.T1 is T0) as one.
        var two = s
        two.steps[6].thread = 0
        #expect(ShrinkMoves.candidates(two).map(\.scenario).contains { c in
            guard c.steps.count == two.steps.count - 1, case let .writeRead(wr) = c.steps[5].action else { return false }
            return wr.commands.count == 2
        })
        // P1's steps moved into P0, on threads P0 does not use (P0 has T0-T2).
        #expect(all.contains { c in c.steps.allSatisfy { $0.process == 0 } && c.steps[3].thread == 3 })
    }
}
