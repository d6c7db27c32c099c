import BinderHarness
import BinderUAPI
import PropertyBased
import Testing

@Suite struct WireFormatTests {
    @Test("generated scenarios round-trip through the wire format")
    func generatedRoundTrip() {
        var g = ScenarioGenerator(seed: 0xF0F0)
        for _ in 0..<150 {
            let s = g.generate()
            #expect(WireFormat.decode(WireFormat.encode(s)) == s)
            #expect(WireFormat.decode(WireFormat.encode(s, header: false)) == s)
        }
    }

    @Test("random byte strings decode without trapping, and the decoded scenario round-trips")
    func randomBytes() async {
        await propertyCheck(count: 400, input: Gen.uint8().array(of: 0...600)) { bytes in
            let s = WireFormat.decode(bytes)
            #expect(s.processCount >= 1 && s.processCount <= Scenario.maxProcesses)
            let again = WireFormat.decode(WireFormat.encode(s))
            #expect(again == s)
            #expect(WireFormat.encode(again) == WireFormat.encode(s))
        }
    }

    @Test("random bytes behind a header decode too, and run on both backends without trapping")
    func randomBytesRun() async {
        await propertyCheck(count: 60, input: Gen.uint8().array(of: 0...300)) { bytes in
            let s = WireFormat.decode(WireFormat.magic + [1] + bytes)
            _ = DifferentialRun(modelVersusDriver: s)
        }
    }

    @Test("the header-less form decodes to the same scenario")
    func headerless() {
        let s = ScenarioGenerator.scenario(seed: 77)
        let withHeader = WireFormat.encode(s)
        let bare = WireFormat.encode(s, header: false)
        #expect(Array(withHeader.prefix(4)) == WireFormat.magic)
        #expect(Array(withHeader.dropFirst(5)) == bare)
        #expect(WireFormat.decode(bare) == s)
        #expect(WireFormat.decode([]) == Scenario(processCount: 1, steps: []))
    }
}
