#if os(Linux)
import BinderHarness
@testable import BinderKernel
import BinderModel
import BinderUAPI
import Testing

/// Clustering signatures of `kernel compare`: one root cause, one class.
@Suite struct TraceDifferenceTests {
    static let setup: [Step] = [Step(0, 0, .open), Step(0, 0, .mmap(pages: 4, prot: 1))]

    @Test("a thread's first ioctl since open or thread exit is marked new")
    func newThread() {
        let s = Scenario(processCount: 1, steps: Self.setup + [
            Step(0, 0, .version), Step(0, 0, .writeRead(WriteRead(readSize: 64))),
            Step(0, 1, .writeRead(WriteRead(readSize: 64))),
            Step(0, 1, .threadExit), Step(0, 1, .version),
            Step(0, 0, .close), Step(0, 0, .open), Step(0, 0, .version),
        ])
        let ok = Array(repeating: StepOutcome(result: 0), count: s.steps.count)
        let first = s.steps.indices.filter { TraceDifference.isThreadsFirstIoctl(s, $0, ok) }
        #expect(first == [2, 4, 6, 9])
        // A skipped earlier ioctl does not count.
        var skipped = ok
        skipped[2] = .skip("test")
        #expect(TraceDifference.isThreadsFirstIoctl(s, 3, skipped))
    }

    @Test("write-read divergences are located at the command where the sides part")
    func locus() throws {
        let wr = WriteRead(commands: [.increfs(0), .acquire(0), .release(0)], readSize: 0)
        let s = Scenario(processCount: 1, steps: Self.setup + [Step(0, 0, .version), Step(0, 0, .writeRead(wr))])
        let a = StepOutcome(result: 0, writeConsumed: 24, readConsumed: 0)
        let b = StepOutcome(result: -Errno.EFAULT.rawValue, writeConsumed: 8, readConsumed: 0)
        let ok = [StepOutcome(result: 0), StepOutcome(result: 0), StepOutcome(result: 0, output: [8, 0, 0, 0])]
        let d = try #require(TraceDifference.between(s, ok + [a], ok + [b]))
        #expect(d.stepIndex == 3)
        #expect(d.signature == "write-read BC_ACQUIRE: return 0 vs -EFAULT")
        // Same result, same commands consumed: the read part.
        let c = StepOutcome(result: 0, writeConsumed: 24, readConsumed: 4)
        let e = try #require(TraceDifference.between(s, ok + [a], ok + [c]))
        #expect(e.signature == "write-read end: read_consumed differs")
    }

    @Test("payload differences name the fields, not the values")
    func payloadFields() throws {
        // A real BR_TRANSACTION from the model: P1 calls the context manager P0.
        let s = Scenario(processCount: 2, steps: [
            Step(0, 0, .open), Step(0, 0, .mmap(pages: 4, prot: 1)), Step(0, 0, .setContextManager),
            Step(1, 0, .open), Step(1, 0, .mmap(pages: 4, prot: 1)),
            Step(1, 0, .writeRead(WriteRead(commands: [.transaction(Transaction(handle: 0, code: 1, flags: TransactionFlags.oneWay))]))),
            Step(0, 0, .writeRead(WriteRead(readSize: 256))),
        ])
        let model = ScenarioRunner.trace(s, on: BinderModel(processCount: 2)).outcomes
        var other = model
        let k = try #require(other[6].returns.firstIndex { if case .transaction = $0 { return true } else { return false } })
        guard case var .transaction(code, t) = other[6].returns[k] else { Issue.record("item \(k) is not a transaction"); return }
        t.offsets = .raw(0)
        t.senderProcess = t.senderProcess == 1 ? 0 : 1
        other[6].returns[k] = .transaction(code, t)
        let d = try #require(TraceDifference.between(s, model, other))
        #expect(d.signature == "write-read read: BR_TRANSACTION sender_pid,data.ptr.offsets differ")
    }

    @Test("a class of a later comparison looks up its analysis under the comparison's title")
    func scopedAnalyses() throws {
        let s = Scenario(processCount: 1, steps: [Step(0, 0, .open), Step(0, 0, .setMaxThreads(1))])
        let model = ScenarioRunner.trace(s, on: BinderModel(processCount: 1)).outcomes
        var other = model
        other[1].result = -22
        let d = try #require(TraceDifference.between(s, model, other))
        let c = DivergenceClass(signature: d.signature, count: 1, example: "x", representative: "x", minimal: s, difference: d,
                                leftTrace: model, rightTrace: other, confirmations: 3, confirmationRuns: 3)
        let k = ComparisonReport.key(d.signature)
        func section(_ title: String) -> ComparisonReport.Section {
            ComparisonReport.Section(title: title, left: .model, right: .driver, classes: [c], compared: 1, missing: 0, scenarioCounts: [:])
        }
        let text = ComparisonReport.render(header: "# R", sections: [section("a vs b"), section("model vs c")],
                                           analyses: [k: "first", "model vs c \(k)": "second"])
        #expect(text.contains("<!-- analysis \(k) -->\nfirst\n"))
        #expect(text.contains("<!-- analysis model vs c \(k) -->\nsecond\n"))
    }

    @Test("a class is represented by its smallest scenario once truncated at the divergence")
    func smallestRepresentative() {
        let long = Scenario(processCount: 1, steps: [Step(0, 0, .open), Step(0, 0, .setMaxThreads(1)),
                                                      Step(0, 0, .setMaxThreads(2)), Step(0, 0, .setMaxThreads(3))])
        let short = Scenario(processCount: 1, steps: [Step(0, 0, .open), Step(0, 0, .setMaxThreads(1)), Step(0, 0, .open)])
        // Truncated at their divergences: 2 steps against 3, whatever the full lengths.
        #expect(Comparison.betterRepresentative(long, 1, than: short, 2))
        #expect(!Comparison.betterRepresentative(short, 2, than: long, 1))
        #expect(Comparison.betterRepresentative(short, 2, than: long, 3))
        #expect(!Comparison.betterRepresentative(long, 1, than: long, 1))
    }

    @Test("kernel analyses refreshes marked blocks and keeps the rest")
    func refreshAnalyses() {
        let report = "# R\n\n<!-- analysis k1 -->\nold\n<!-- /analysis -->\n\ntail\n<!-- analysis k2 -->\nx\n<!-- /analysis -->"
        let out = ComparisonReport.refreshAnalyses(report, ["k1": "new text"])
        #expect(out.contains("<!-- analysis k1 -->\nnew text\n<!-- /analysis -->"))
        #expect(!out.contains("old"))
        #expect(out.contains("tail"))
        #expect(out.contains("not written yet (add `k2`"))
    }
}
#endif
