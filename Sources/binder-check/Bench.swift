import ArgumentParser
import BinderHarness
import BinderUAPI

/// `binder-check bench`: model and driver throughput on the same workload at growing state sizes.
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure model and driver steps/s at 100, 1,000 and 10,000 live refs and live buffers.",
        discussion: """
        Setup (not timed): P0 is the context manager; P1 calls it N times and P0 replies each time with a \
        new BINDER object, and neither frees, so P1 holds N refs and both hold N received buffers. \
        Measured loop: P1 calls ref h (round robin) with 64 bytes, P0 reads, replies with 64 bytes and frees, \
        P1 reads the reply, frees it, BC_ACQUIRE h, BC_RELEASE h. Every step goes through ScenarioRunner \
        (both backends pay the same harness cost); no invariant checks run. Build with -c release: \
        swift run -c release binder-check bench
        """)

    @Option(parsing: .upToNextOption, help: "Numbers of live refs and live buffers.")
    var sizes: [Int] = [100, 1000, 10000]

    @Option(help: "Measured loop iterations per size (5 steps each).")
    var iterations: Int = 2000

    func validate() throws {
        guard sizes.allSatisfy({ $0 >= 1 && $0 <= 20000 }) else { throw ValidationError("sizes must be in 1...20000") }
        guard iterations >= 1 else { throw ValidationError("--iterations must be at least 1") }
    }

    struct Workload {
        var setup: [Step]
        var loop: [Step]
        var payloadBytes: UInt64
    }

    static func writeRead(_ commands: [Command], read: UInt32) -> Action {
        .writeRead(WriteRead(commands: commands, readSize: read))
    }

    /// The workload for `n` live refs and buffers.
    static func workload(size n: Int, iterations: Int) -> Workload {
        var setup: [Step] = [
            Step(0, 0, .open), Step(0, 0, .mmap(pages: 1024, prot: 1)), Step(0, 0, .setContextManager),
            Step(0, 0, writeRead([.enterLooper], read: 0)),
            Step(1, 0, .open), Step(1, 0, .mmap(pages: 1024, prot: 1)),
        ]
        for i in 0..<n {
            let ptr = 0x10_0000 + UInt64(i) * 0x20
            setup.append(Step(1, 0, writeRead([.transaction(Transaction(handle: 0, code: 1, payload: Payload(trailing: 8)))], read: 256)))
            setup.append(Step(0, 0, writeRead([], read: 1024)))
            let object = PayloadObject(.binder(ptr: ptr, cookie: ptr + 8, flags: 0, weak: false))
            setup.append(Step(0, 0, writeRead([.reply(Transaction(payload: Payload(objects: [object])))], read: 256)))
            setup.append(Step(1, 0, writeRead([], read: 256)))
        }
        var loop: [Step] = []
        let payload: UInt32 = 64
        for k in 0..<iterations {
            let h = UInt32(1 + k % n)
            let index = UInt32(n + k)
            loop.append(Step(1, 0, writeRead([.transaction(Transaction(handle: h, code: 2, payload: Payload(trailing: payload)))], read: 256)))
            loop.append(Step(0, 0, writeRead([], read: 1024)))
            loop.append(Step(0, 0, writeRead([.reply(Transaction(payload: Payload(trailing: payload))), .freeBuffer(.received(index: index))], read: 256)))
            loop.append(Step(1, 0, writeRead([], read: 256)))
            loop.append(Step(1, 0, writeRead([.freeBuffer(.received(index: index)), .acquire(h), .release(h)], read: 0)))
        }
        return Workload(setup: setup, loop: loop, payloadBytes: UInt64(iterations) * UInt64(2 * payload))
    }

    struct Measurement {
        var setupSeconds: Double
        var loopSeconds: Double
        var copied: UInt64
        var outcomes: [StepOutcome]
        var transactionsReceived: Int
        var failedSteps: Int
    }

    static func measure(_ kind: BackendKind, _ w: Workload) -> Measurement {
        let backend = kind.make(processCount: 2)
        let runner = ScenarioRunner(backend: backend, processCount: 2)
        let t0 = monotonicSeconds()
        var received = 0
        for step in w.setup {
            let o = runner.run(step)
            received += o.returns.filter { if case .transaction = $0 { return true } else { return false } }.count
        }
        let t1 = monotonicSeconds()
        let copiedBefore = backend.copiedBytes
        var outcomes: [StepOutcome] = []
        outcomes.reserveCapacity(w.loop.count)
        let t2 = monotonicSeconds()
        for step in w.loop { outcomes.append(runner.run(step)) }
        let t3 = monotonicSeconds()
        let copied = backend.copiedBytes - copiedBefore
        var failed = 0
        for o in outcomes {
            if let r = o.result, r < 0, r != Errno.EAGAIN.negated { failed += 1 }
            received += o.returns.filter { if case .transaction = $0 { return true } else { return false } }.count
        }
        return Measurement(setupSeconds: t1 - t0, loopSeconds: t3 - t2, copied: copied, outcomes: outcomes,
                           transactionsReceived: received, failedSteps: failed)
    }

    func run() throws {
        #if DEBUG
        print("note: this is a debug build; run `swift run -c release binder-check bench` for meaningful numbers")
        #endif
        print("workload: \(iterations) iterations x 5 steps per size, 128 payload bytes per iteration\n")
        var table: [[String]] = [["size", "model steps/s", "driver steps/s", "driver/model", "copied/payload byte", "setup model/driver", "agree"]]
        var problems: [String] = []
        for n in sizes {
            let w = Bench.workload(size: n, iterations: iterations)
            let model = Bench.measure(.model, w)
            let driver = Bench.measure(.driver, w)
            let steps = Double(w.loop.count)
            let m = steps / max(model.loopSeconds, 1e-9), d = steps / max(driver.loopSeconds, 1e-9)
            let agree = model.outcomes == driver.outcomes
            // every round delivers one BR_TRANSACTION and one BR_REPLY
            let expected = 2 * (n + iterations)
            if !agree { problems.append("size \(n): model and driver outcomes differ in the measured loop") }
            if model.transactionsReceived != expected || model.failedSteps > 0 {
                problems.append("size \(n): the model received \(model.transactionsReceived) of \(expected) transactions/replies, \(model.failedSteps) failed steps: the workload did not run as designed")
            }
            table.append([grouped(n), grouped(Int(m)), grouped(Int(d)), String(format1: d / m, digits: 2) + "x",
                          String(format1: Double(driver.copied) / Double(w.payloadBytes), digits: 3),
                          formatSeconds(model.setupSeconds) + " / " + formatSeconds(driver.setupSeconds),
                          agree ? "yes" : "NO"])
            print("size \(grouped(n)): model \(grouped(Int(m))) steps/s, driver \(grouped(Int(d))) steps/s"); flushOutput()
        }
        print("")
        let widths = (0..<table[0].count).map { c in table.map { $0[c].count }.max() ?? 0 }
        for (i, row) in table.enumerated() {
            print(row.enumerated().map { c, s in c == 0 || c == 6 ? s.padded(widths[c]) : s.leftPadded(widths[c]) }.joined(separator: " | "))
            if i == 0 { print(widths.map { String(repeating: "-", count: $0) }.joined(separator: "-+-")) }
        }
        for p in problems { print("WARNING: " + p) }
        if !problems.isEmpty { throw ExitCode(1) }
    }
}
