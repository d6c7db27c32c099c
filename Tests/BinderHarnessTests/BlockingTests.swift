import BinderHarness
import BinderModel
import BinderUAPI
import Testing

/// Blocking steps: the wire-format versions, and how often generated scenarios park and poll.
@Suite struct BlockingTests {
    @Test("a version-1 file decodes as before: step tags are taken modulo 17, not 22")
    func versionOneGolden() throws {
        // Process byte 1 (two processes), then tag 17 for P0.T0 and tag 21 for P1.T0.
        let body: [UInt8] = [1, 17, 0x00, 21, 0x01]
        let v1 = WireFormat.decode(WireFormat.magic + [1] + body)
        #expect(v1 == Scenario(processCount: 2, steps: [Step(0, 0, .open), Step(1, 0, .version)]))
        let v2 = WireFormat.decode(WireFormat.magic + [2] + body)
        #expect(v2 == Scenario(processCount: 2, steps: [Step(0, 0, .openBlocking), Step(1, 0, .exit)]))
        #expect(try WireFormat.decode(WireFormat.encode(v2)) == v2)
    }

    @Test("a transaction with 20 objects round-trips through text and the wire format unchanged")
    func twentyObjects() throws {
        var objects: [PayloadObject] = []
        for k in 0..<20 {
            let ptr = UInt64(0x1000 * (k + 1))
            objects.append(PayloadObject(gap: UInt32(k % 3 * 4), .binder(ptr: ptr, cookie: UInt64(k), flags: 0, weak: k % 2 == 1)))
        }
        let t = Transaction(handle: 0, code: 1, payload: Payload(objects: objects, trailing: 5000))
        let s = Scenario(processCount: 1, steps: [Step(0, 0, .openBlocking), Step(0, 0, .writeRead(WriteRead(commands: [.transaction(t)], readSize: 256)))])
        let text = ScenarioText.render(s)
        let parsed = try ScenarioTextParser.parse(text)
        #expect(parsed == s)
        #expect(try WireFormat.decode(WireFormat.encode(parsed)) == s)
        #expect(ScenarioText.render(WireFormat.decode(try WireFormat.encode(parsed))) == text)
    }

    @Test("a scenario over a limit fails to encode with an error naming the limit")
    func overLimit() {
        let limits = ScenarioLimits.current
        let objects = [PayloadObject](repeating: PayloadObject(.handle(0, flags: 0, weak: false)), count: limits.objectsPerPayload + 1)
        let t = Transaction(payload: Payload(objects: objects))
        let s = Scenario(processCount: 1, steps: [Step(0, 0, .open), Step(0, 0, .writeRead(WriteRead(commands: [.transaction(t)])))])
        #expect(throws: ScenarioLimits.Violation(step: 1, limit: "objects per payload", value: limits.objectsPerPayload + 1,
                                                 maximum: limits.objectsPerPayload)) { try WireFormat.encode(s) }
        let raw = Scenario(processCount: 1, steps: [Step(0, 0, .writeRead(WriteRead(commands: [.raw([UInt8](repeating: 1, count: 5000))])))])
        do {
            _ = try WireFormat.encode(raw)
            Issue.record("a 5000-byte raw command encoded")
        } catch {
            #expect("\(error)" == "step 0: raw command bytes is 5000, over the limit of \(limits.rawCommandBytes)")
        }
    }

    @Test("blocking steps round-trip through the text form")
    func textForm() throws {
        let s = Scenario(processCount: 2, steps: [
            Step(0, 0, .openBlocking), Step(0, 1, .poll(blocking: true)), Step(0, 2, .poll(blocking: false)),
            Step(0, 1, .signal(restart: true)), Step(0, 1, .signal(restart: false)), Step(1, 0, .flushDuplicate),
            Step(0, 0, .exit),
        ])
        #expect(try ScenarioTextParser.parse(ScenarioText.render(s)) == s)
    }

    @Test("generated scenarios of every profile park threads, poll, and never need a scheduling choice",
          arguments: GeneratorProfile.allCases)
    func generatedBlocking(profile: GeneratorProfile) {
        var g = profile.generator(seed: 0xB10C)
        let n = 120
        var parking = 0, polling = 0, steps = 0, parks = 0, wakes = 0, polls = 0, exits = 0
        for _ in 0..<n {
            let s = g.generate()
            let trace = ScenarioRunner.trace(s, on: BinderModel(processCount: s.processCount))
            #expect(trace.firstSchedulingDependentStep == nil, "a generated step depends on scheduling")
            steps += s.steps.count
            let parked = trace.outcomes.filter(\.parked).count
            let woken = trace.outcomes.map(\.completions.count).reduce(0, +)
            let polled = s.steps.filter { if case .poll = $0.action { return true } else { return false } }.count
            parks += parked; wakes += woken; polls += polled
            exits += s.steps.filter { $0.action == .exit }.count
            if parked > 0 { parking += 1 }
            if polled > 0 { polling += 1 }
        }
        print("blocking (\(profile)): \(n) scenarios, \(parking) park a thread, \(polling) poll; of \(steps) steps: "
              + "\(parks) park, \(wakes) wake a parked thread, \(polls) poll, \(exits) exit")
        #expect(parking * 4 >= n, "fewer than a quarter of the scenarios park a thread")
        #expect(polling * 10 >= n, "fewer than one in ten scenarios poll")
        #expect(wakes > 0)
    }
}
