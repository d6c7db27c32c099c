import BinderHarness
import BinderModel
import BinderUAPI
import Testing

/// Files across Binder: the scenario language of version 3, and how often generated scenarios
/// pass a file that arrives.
@Suite struct FileTests {
    @Test("a version-2 file decodes its FD objects as literal fds, and its step tags modulo 23")
    func versionTwoGolden() {
        // One process; P0.T0 write-read with one BC_TRANSACTION carrying FD 7 (object tag 4,
        // gap 0, varint 7); then tag 23, which version 2 reads as tag 0 (open).
        let transaction: [UInt8] = [0, 0, 0, 0, 0, 1, 4, 0, 7, 0]
        let body: [UInt8] = [0, 9, 0x00, 0, 1] + transaction + [0] + [23, 0x00]
        let v2 = WireFormat.decode(WireFormat.magic + [2] + body)
        let t = Transaction(payload: Payload(objects: [PayloadObject(.fd(.literal(7)))]))
        #expect(v2 == Scenario(processCount: 1, steps: [Step(0, 0, .writeRead(WriteRead(commands: [.transaction(t)]))),
                                                        Step(0, 0, .open)]))
    }

    @Test("file steps, fd operands and FDA arrays round-trip through text and the wire format")
    func roundTrip() throws {
        let fda = ObjectKind.fda(numFds: 3, parent: 0, parentOffset: 4, fds: [.created(index: 0), .received(index: 2), .literal(1000)])
        let t = Transaction(handle: 1, code: 2, flags: TransactionFlags.acceptFDs, payload: Payload(objects: [
            PayloadObject(gap: 8, .ptr(length: 16, flags: 0, parent: 0, parentOffset: 0)), PayloadObject(fda),
            PayloadObject(.fd(.created(index: 1))), PayloadObject(.fd(.received(index: 0))), PayloadObject(.fd(.literal(3))),
        ]), buffersSize: 16)
        let s = Scenario(processCount: 2, steps: [
            Step(0, 0, .newFile(.memfd)), Step(0, 1, .newFile(.pipe)), Step(1, 0, .fdLimit(5)),
            Step(0, 0, .writeRead(WriteRead(commands: [.transaction(t)]))),
            Step(1, 0, .checkFd(.received(index: 0))), Step(1, 0, .closeFd(.created(index: 3))), Step(1, 0, .checkFd(.literal(2))),
        ])
        let text = ScenarioText.render(s)
        #expect(try ScenarioTextParser.parse(text) == s)
        #expect(try WireFormat.decode(WireFormat.encode(s)) == s)
    }

    @Test("a received file is the sender's file, at the receiver's lowest free fd")
    func fileArrives() throws {
        let s = try ScenarioTextParser.parse("""
            # binder scenario v3, 2 processes
            P0.T0 open
            P0.T0 mmap pages=1 prot=0x1
            P0.T0 ioctl BINDER_SET_CONTEXT_MGR_EXT ptr=0x0 cookie=0x0 flags=0x100
            P1.T0 open
            P1.T0 mmap pages=1 prot=0x1
            P1.T0 file memfd
            P1.T0 file pipe
            P1.T0 write-read read=256 { BC_TRANSACTION handle=0 code=0x1 flags=0x1 data=[FD created#1, FD created#0] }
            P0.T0 write-read read=256
            P0.T0 check-fd received-fd#0
            P0.T0 check-fd received-fd#1
            P0.T0 close-fd 3
            """)
        let trace = ScenarioRunner.trace(s, on: BinderModel(processCount: 2))
        #expect(trace.outcomes[5].result == 4 && trace.outcomes[6].result == 5)
        guard case let .transaction(_, received)? = trace.outcomes[8].returns.last else {
            Issue.record("no BR_TRANSACTION: \(trace.outcomes[8])"); return
        }
        #expect(received.fds == [4, 5])
        #expect(trace.outcomes[9].file == .file(index: 1, kind: .pipe))
        #expect(trace.outcomes[10].file == .file(index: 0, kind: .memfd))
        #expect(trace.outcomes[11].skipped == "own binder fd")
    }

    @Test("generated scenarios pass files that arrive")
    func generatedFiles() {
        var arrived = 0, n = 0
        for profile in GeneratorProfile.allCases {
            var g = profile.generator(seed: 0xF11E)
            for _ in 0..<60 {
                let s = g.generate()
                n += 1
                let trace = ScenarioRunner.trace(s, on: BinderModel(processCount: s.processCount))
                let outcomes = trace.outcomes + trace.outcomes.flatMap { $0.completions.map(\.outcome) }
                if outcomes.contains(where: { $0.returns.contains { if case let .transaction(_, t) = $0 { !t.fds.isEmpty } else { false } } }) {
                    arrived += 1
                }
            }
        }
        print("files: \(arrived) of \(n) generated scenarios pass a file that arrives")
        #expect(arrived * 10 >= n, "fewer than one in ten scenarios pass a file that arrives")
    }
}
