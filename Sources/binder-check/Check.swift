import ArgumentParser
import BinderHarness

/// `binder-check check`: generated (property-based) scenarios, model vs driver.
struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run N generated scenarios model-vs-driver; print the first failure, shrunk. Exit 1 on failure.")

    @Option(help: "How many scenarios (seeds S ..< S+N).")
    var count: Int = 1000

    @Option(help: "The first seed.")
    var seed: UInt64 = 1

    @Option(help: "Generator profiles (comma separated) or 'all'; seed S+k uses the k-th in turn.")
    var profiles: String = "all"

    @Flag(help: "Do not shrink a failure.")
    var noShrink = false

    @Option(help: "Write the failing scenarios (original and shrunk) into this directory.")
    var save: String?

    func run() throws {
        let start = monotonicSeconds()
        let chosen = try GeneratorProfile.parseList(profiles)
        let failure = GeneratedCheck.firstFailure(seeds: seed..<(seed &+ UInt64(count)), profiles: chosen, shrink: !noShrink)
        let seconds = monotonicSeconds() - start
        let ran = failure.map { Int($0.seed &- seed) + 1 } ?? count
        let rate = Double(ran) / max(seconds, 1e-6)
        guard let f = failure else {
            print("check: \(count) scenarios (seeds \(seed)..<\(seed &+ UInt64(count))) agree, "
                + "\(String(format1: rate, digits: 0)) scenarios/s, \(formatSeconds(seconds))")
            return
        }
        print(f.report)
        print("")
        print("check: FAILED at seed \(f.seed) after \(ran) scenarios (\(String(format1: rate, digits: 0)) scenarios/s, \(formatSeconds(seconds))); "
            + "shrunk \(f.original.steps.count) -> \(f.shrunk.steps.count) steps; signature \(f.divergence.signature)")
        if let dir = save {
            CorpusFiles.makeDirectory(dir)
            let original = Files.join(dir, "seed-\(f.seed)-original.bscn")
            let shrunk = Files.join(dir, "seed-\(f.seed)-shrunk.bscn")
            CorpusFiles.write(original, try WireFormat.encode(f.original))
            CorpusFiles.write(shrunk, try WireFormat.encode(f.shrunk))
            print("wrote \(original) and \(shrunk)")
        }
        print("reproduce: binder-check check --seed \(f.seed) --count 1 --profiles \(f.profile.rawValue)")
        throw ExitCode(1)
    }
}
