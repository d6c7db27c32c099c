import ArgumentParser
import BinderHarness

/// `binder-check generate`: writes generated scenarios as corpus files.
struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write N generated scenarios (seeds S, S+1, ...) as corpus files.",
        discussion: "Used to create the seed corpus: binder-check generate --count 40 --out Corpus/differential --seed 1 --max-steps 40")

    @Option(help: "How many scenarios.")
    var count: Int = 40

    @Option(help: "The output directory.")
    var out: String

    @Option(help: "The first seed; scenario i comes from seed S+i, exactly as `check` generates it.")
    var seed: UInt64 = 1

    @Option(help: "Keep only the first M steps of each scenario (a prefix is still a valid scenario).")
    var maxSteps: Int?

    @Option(help: "Generator profile: \(GeneratorProfile.allCases.map(\.rawValue).joined(separator: ", ")).")
    var profile: String = GeneratorProfile.standard.rawValue

    @Flag(help: "Write header-less bytes (the raw form fuzzer inputs take) instead of BSCN + version.")
    var noHeader = false

    func run() throws {
        CorpusFiles.makeDirectory(out)
        guard CorpusFiles.isDirectory(out) else { throw ValidationError("cannot create \(out)") }
        guard let chosen = GeneratorProfile(rawValue: profile) else { throw ValidationError("unknown generator profile \(profile)") }
        var total = 0, steps = 0, written = 0
        for i in 0..<count {
            var scenario = chosen.scenario(seed: seed &+ UInt64(i))
            if let m = maxSteps, scenario.steps.count > m { scenario.steps.removeSubrange(m...) }
            let bytes = try WireFormat.encode(scenario, header: !noHeader)
            let path = Files.join(out, CorpusFiles.fileName(for: scenario))
            if !Files.exists(path) { written += 1 }
            guard CorpusFiles.write(path, bytes) else { throw ValidationError("cannot write \(path)") }
            total += bytes.count
            steps += scenario.steps.count
        }
        print("wrote \(written) new of \(count) scenarios (\(grouped(steps)) steps, \(grouped(total)) bytes) to \(out)")
    }
}
