import BinderHarness
import BinderModel
import BinderUAPI
import PropertyBased
import Testing

@Suite struct ScenarioTextParserTests {
    @Test("generated scenarios of every profile round-trip through the text form",
          arguments: GeneratorProfile.allCases)
    func generatedRoundTrip(profile: GeneratorProfile) throws {
        var g = profile.generator(seed: 0x7E47)
        for _ in 0..<60 {
            let s = g.generate()
            #expect(try ScenarioTextParser.parse(ScenarioText.render(s)) == s)
        }
    }

    @Test("scenarios decoded from random bytes (raw commands, bad pointers, odd sizes) round-trip through text")
    func randomRoundTrip() async {
        await propertyCheck(count: 400, input: Gen.uint8().array(of: 0...600)) { bytes in
            let s = WireFormat.decode(WireFormat.magic + [UInt8(WireFormat.currentVersion)] + bytes)
            let text = ScenarioText.render(s)
            #expect((try? ScenarioTextParser.parse(text)) == s, "\(text)")
        }
    }

    @Test("steps are read out of explain output and report traces; outcome lines are skipped")
    func annotatedText() throws {
        let s = ScenarioGenerator.scenario(seed: 5)
        let trace = ScenarioRunner.trace(s, on: BinderModel(processCount: s.processCount)).outcomes
        #expect(try ScenarioTextParser.parse(ScenarioText.render(s, outcomes: trace)) == s)
        let marked = """
            # binder scenario v1, 2 processes, 2 steps
            Traces (`*` marks steps that differ):
               0  P0.T0 open
                    both:  -> 0
            *   1  P1.T2 ioctl BINDER_FREEZE P0 enable=1
                    left:  -> 0
                    right: -> -EINVAL
            """
        #expect(try ScenarioTextParser.parse(marked) == Scenario(processCount: 2, steps: [
            Step(0, 0, .open), Step(1, 2, .freeze(target: 0, enable: 1)),
        ]))
    }

    @Test("malformed text is an error naming the line, never a trap")
    func errors() {
        for (text, line) in [("P0.T0 open\nP0.T0 fly", 2), ("   0  P9.T0 open", 1), ("P0.T0 write-read { BC_NOPE }", 1),
                             ("# binder scenario v1, 1 processes, 1 steps\nP1.T0 open", 1),
                             ("P0.T0 write-read { BC_TRANSACTION handle=0 code=0x0 flags=0x0 data=[gap 4] }", 1),
                             ("P0.T0 mmap pages=x prot=0x1", 1)] {
            #expect(throws: ScenarioTextParser.ParseError.self) { try ScenarioTextParser.parse(text) }
            do { _ = try ScenarioTextParser.parse(text) } catch let e as ScenarioTextParser.ParseError { #expect(e.line == line, "\(text)") } catch {}
        }
    }
}
