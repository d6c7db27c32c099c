import BinderHarness
import BinderModel
import BinderUAPI
import Testing

/// Kernel fidelity without QEMU: every `Corpus/kernel/*.bscn` has the trace a real Linux 6.12
/// kernel produced stored beside it (`*.bscn.trace`, recorded by
/// `binder-check kernel replay --record Corpus/kernel`). The model must reproduce it exactly.
@Test func modelMatchesStoredKernelTraces() {
    let dir = TestSupport.packageRoot() + "/Corpus/kernel"
    let files = CorpusFiles.scenarioFiles(dir).filter { $0.hasSuffix(".bscn") }
    var checked = 0
    for file in files {
        guard let bytes = CorpusFiles.read(file) else { continue }
        guard let traceBytes = CorpusFiles.read(file + ".trace") else {
            Issue.record("\(file) has no stored kernel trace (.trace)")
            continue
        }
        let scenario = WireFormat.decode(bytes)
        let kernel = String(decoding: traceBytes, as: UTF8.self).split(separator: "\n").compactMap {
            TraceCodec.unhex($0).map(TraceCodec.decode)
        }
        let model = ScenarioRunner.trace(scenario, on: BinderModel(processCount: scenario.processCount)).outcomes
        #expect(kernel.count == scenario.steps.count, "\(file): stored trace has \(kernel.count) of \(scenario.steps.count) steps")
        for i in 0..<min(kernel.count, model.count) where kernel[i] != model[i] {
            let d = Divergence(stepIndex: i, step: scenario.steps[i], kind: .outcome, leftName: "kernel 6.12",
                               rightName: "model", left: kernel[i], right: model[i])
            Issue.record("\(file)\n\(d.report(scenario))")
            break
        }
        checked += 1
    }
    print("kernel corpus: \(checked) scenarios checked against stored 6.12 traces")
}

@Test func traceCodecRoundTrips() {
    var g = ScenarioGenerator(seed: 77)
    for _ in 0..<20 {
        let s = g.generate()
        for o in ScenarioRunner.trace(s, on: BinderModel(processCount: s.processCount)).outcomes {
            #expect(TraceCodec.decode(TraceCodec.encode(o)) == o)
            #expect(TraceCodec.unhex(Substring(TraceCodec.hex(TraceCodec.encode(o)))) == TraceCodec.encode(o))
        }
    }
}
