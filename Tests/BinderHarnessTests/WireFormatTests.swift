import BinderHarness
import BinderUAPI
import PropertyBased
import Testing

@Suite struct WireFormatTests {
    @Test("generated scenarios round-trip through the wire format")
    func generatedRoundTrip() throws {
        var g = ScenarioGenerator(seed: 0xF0F0)
        for _ in 0..<150 {
            let s = g.generate()
            #expect(try WireFormat.decode(WireFormat.encode(s)) == s)
            #expect(try WireFormat.decode(WireFormat.encode(s, header: false)) == s)
        }
    }

    @Test("random byte strings decode without trapping, and the decoded scenario round-trips")
    func randomBytes() async {
        await propertyCheck(count: 400, input: Gen.uint8().array(of: 0...600)) { bytes in
            let s = WireFormat.decode(bytes)
            #expect(s.processCount >= 1 && s.processCount <= Scenario.maxProcesses)
            let bytes = WireFormat.bytes(of: s)
            let again = WireFormat.decode(bytes)
            #expect(again == s)
            #expect(WireFormat.bytes(of: again) == bytes)
        }
    }

    @Test("random bytes behind a header of every version decode too, and run on both backends without trapping",
          arguments: 1...WireFormat.currentVersion)
    func randomBytesRun(version: Int) async {
        await propertyCheck(count: 60, input: Gen.uint8().array(of: 0...300)) { bytes in
            let s = WireFormat.decode(WireFormat.magic + [UInt8(version)] + bytes)
            _ = DifferentialRun(modelVersusDriver: s)
        }
    }

    @Test("the header-less form decodes to the same scenario")
    func headerless() throws {
        let s = ScenarioGenerator.scenario(seed: 77)
        let withHeader = try WireFormat.encode(s)
        let bare = try WireFormat.encode(s, header: false)
        #expect(Array(withHeader.prefix(4)) == WireFormat.magic)
        #expect(Array(withHeader.dropFirst(5)) == bare)
        #expect(WireFormat.decode(bare) == s)
        #expect(WireFormat.decode([]) == Scenario(processCount: 1, steps: []))
    }
}
