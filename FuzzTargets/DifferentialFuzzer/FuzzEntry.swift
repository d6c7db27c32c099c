// The differential fuzz target: bytes -> Scenario -> model and driver in lockstep -> trap on divergence.
//
// Built for fuzzing with
//   swift build -c release --product DifferentialFuzzer --scratch-path .build-fuzz \
//       --sanitize=fuzzer -Xswiftc -DLIBFUZZER_MAIN
// (libFuzzer supplies main()). A plain `swift build` gives a replay driver instead: run it with
// scenario files as arguments.
import BinderHarness
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Steps beyond this are dropped, to keep executions fast; the corpus still mutates freely.
let fuzzStepLimit = 80

/// Decodes and runs one input. Returns the (capped) scenario and its divergence, if any.
func runDifferential(_ bytes: [UInt8]) -> (Scenario, Divergence?) {
    var scenario = WireFormat.decode(bytes)
    if scenario.steps.count > fuzzStepLimit { scenario.steps.removeSubrange(fuzzStepLimit...) }
    return (scenario, DifferentialRun(modelVersusDriver: scenario).divergence)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func differentialFuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    let (scenario, divergence) = runDifferential(bytes)
    if let d = divergence {
        fputs("\n" + ScenarioText.render(scenario) + "\n\n" + d.report(scenario) + "\n", stderr)
        // fatalError prints its message in -O builds too (precondition does not).
        fatalError("binder divergence: \(d.signature) at step \(d.stepIndex)")
    }
    return 0
}

#if !LIBFUZZER_MAIN
/// Replay driver for builds without libFuzzer: runs each file given as an argument.
@main
struct FuzzReplay {
    static func main() {
        let paths = CommandLine.arguments.dropFirst()
        if paths.isEmpty {
            fputs("usage: DifferentialFuzzer FILE-OR-DIR...\n", stderr)
            exit(2)
        }
        var failed = 0, total = 0
        for path in paths {
            for file in CorpusFiles.scenarioFiles(path) {
                total += 1
                guard let bytes = CorpusFiles.read(file) else {
                    fputs("cannot read \(file)\n", stderr)
                    failed += 1
                    continue
                }
                let (scenario, divergence) = runDifferential(bytes)
                if let d = divergence {
                    failed += 1
                    print("\(file): DIVERGENCE \(d.signature)")
                    print(d.report(scenario))
                } else {
                    print("\(file): ok (\(scenario.steps.count) steps)")
                }
            }
        }
        print("\(total) file(s), \(failed) divergent")
        exit(failed == 0 ? 0 : 1)
    }
}
#endif
