#if os(Linux)
import BinderHarness
import BinderModel
import BinderUAPI

/// The host side of the kernel oracle: replays scenario files in the VM and compares each
/// kernel trace with the model's, step by step.
public struct KernelOracle {
    public struct ScenarioResult {
        public var file: String
        public var scenario: Scenario
        public var kernel: [StepOutcome]
        public var divergence: Divergence?
        public var missing: Bool
    }

    public var bzImage: String
    public var binary: String
    public var workDir: String
    public var batchSize = 400
    public var timeoutSeconds = 900
    /// Print the kernel's binder_logs/state after every step into the console log.
    public var debugState = false

    public init(bzImage: String, binary: String, workDir: String) {
        self.bzImage = bzImage; self.binary = binary; self.workDir = workDir
    }

    /// The model's trace of a scenario: its outcomes, and the first step whose outcome may depend
    /// on the kernel's scheduling (a comparison with a kernel stops before it).
    public static func modelTrace(_ scenario: Scenario) -> Trace {
        ScenarioRunner.trace(scenario, on: BinderModel(processCount: scenario.processCount))
    }

    /// Compares a kernel trace with the model's; the first differing step, if any. Steps from
    /// the first scheduling-dependent one on are not compared.
    public static func compare(_ scenario: Scenario, kernel: [StepOutcome]) -> Divergence? {
        let trace = modelTrace(scenario)
        let model = trace.outcomes
        let end = trace.firstSchedulingDependentStep ?? max(model.count, kernel.count)
        for i in 0..<end {
            let k = i < kernel.count ? kernel[i] : StepOutcome.skip("no kernel outcome")
            let m = i < model.count ? model[i] : StepOutcome.skip("no model outcome")
            if k != m {
                let step = i < scenario.steps.count ? scenario.steps[i] : Step(0, 0, .version)
                return Divergence(stepIndex: i, step: step, kind: .outcome, leftName: "kernel", rightName: "model",
                                  left: k, right: m)
            }
        }
        return nil
    }

    /// Replays `files` in as few boots as the batch size allows, several VMs at a time.
    public func run(_ files: [(name: String, scenario: Scenario)], log: @escaping (String) -> Void) -> (release: String, results: [ScenarioResult], bootSeconds: [Double]) {
        var batches = BootBatches(bzImage: bzImage, binary: binary, workDir: workDir)
        batches.batchSize = batchSize
        batches.timeoutSeconds = timeoutSeconds
        batches.debugState = debugState
        let r = batches.run(files.map(\.scenario), log: log)
        // Guest errors name scenarios by their position in the boot (000012): name the files.
        for e in r.errors {
            let named = e.split(separator: " ", omittingEmptySubsequences: false).map { token -> String in
                let digits = token.drop { $0 == "(" }
                if digits.count == 6, digits.allSatisfy(\.isNumber), let i = Int(digits), i < files.count {
                    return String(token.prefix(token.count - digits.count)) + files[i].name
                }
                return String(token)
            }
            log("kernel: " + named.joined(separator: " "))
        }
        let results = files.enumerated().map { i, entry -> ScenarioResult in
            let kernel = r.traces[i]
            let missing = kernel.count != entry.scenario.steps.count
            let d = missing ? nil : KernelOracle.compare(entry.scenario, kernel: kernel)
            return ScenarioResult(file: entry.name, scenario: entry.scenario, kernel: kernel, divergence: d, missing: missing)
        }
        return (r.release, results, r.bootSeconds)
    }
}

func zeroPadded6(_ n: Int) -> String {
    let s = String(n)
    return String(repeating: "0", count: max(0, 6 - s.count)) + s
}
#endif
