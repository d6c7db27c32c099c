import ArgumentParser
import BinderHarness

/// `binder-check mutants`: mutation testing of the harness. Each deliberate driver bug must be
/// found by the property check or by a short fuzz run.
struct Mutants: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check that the property check and the fuzzer kill every deliberate driver bug.",
        discussion: """
        Builds binder-check with -DBINDER_MUTANTS into .build-mutants and the fuzz target with mutants into \
        .build-fuzz-mutants. For each mutant (BINDER_MUTANT=<name>) runs `check --count N` (killed on a non-zero \
        exit); the mutants it misses (every mutant with --fuzz-all) get a fuzz run of at most --fuzz-time seconds on \
        the seed corpus (killed when a crash file appears). Exits 1 if any mutant survives both.
        """)

    @OptionGroup var package: PackageOptions

    @Option(help: "Generated scenarios per property check.")
    var propertyCount: Int = 2000

    @Option(help: "The first seed of the property check.")
    var seed: UInt64 = 1

    @Option(help: "Seconds of fuzzing per mutant, at most.")
    var fuzzTime: Int = 60

    @Option(help: "Parallel fuzzing processes per mutant (libFuzzer -fork=N).")
    var fuzzJobs: Int = 2

    @Option(help: "Only this mutant (repeatable).")
    var only: [String] = []

    @Flag(help: "Skip the fuzz runs (property check only).")
    var noFuzz = false

    @Flag(help: "Fuzz every mutant, not only those the property check misses.")
    var fuzzAll = false

    @Flag(help: "Do not (re)build.")
    var noBuild = false

    static let checkScratch = ".build-mutants"
    static var checkBinary: String { checkScratch + "/release/binder-check" }

    struct Row {
        var name: String
        var description: String
        var propertyKilled: Bool
        var propertySeconds: Double
        var propertyNote: String
        var fuzzKilled: Bool?
        var fuzzSeconds: Double
        var fuzzNote: String
    }

    func run() throws {
        _ = try package.enterPackageRoot()
        if !noBuild {
            let args = ["swift", "build", "-c", "release", "--product", "binder-check", "--scratch-path", Mutants.checkScratch,
                        "-Xswiftc", "-DBINDER_MUTANTS"]
            print("==> building binder-check with mutants: " + args.joined(separator: " "))
            let r = Subprocess.run(args)
            guard r.status == 0 else { printError("binder-check: build failed"); throw ExitCode(2) }
            print("    built in \(formatSeconds(r.seconds))")
            if !noFuzz { _ = try FuzzTarget.build(mutants: true) }
        }
        // The catalog, from the mutant-built binary itself.
        var lines: [String] = []
        let listing = Subprocess.run([Mutants.checkBinary, "list-mutants"]) { lines.append($0) }
        guard listing.status == 0, lines.first == "# mutants compiled in: yes" else {
            printError("binder-check: \(Mutants.checkBinary) was not built with -DBINDER_MUTANTS (\(lines.first ?? "no output"))")
            throw ExitCode(2)
        }
        var catalog: [(String, String)] = lines.dropFirst().compactMap { line in
            let parts = line.split(separator: "\t", maxSplits: 1).map(String.init)
            return parts.count == 2 ? (parts[0], parts[1]) : nil
        }
        if !only.isEmpty {
            let unknown = only.filter { name in !catalog.contains { $0.0 == name } }
            guard unknown.isEmpty else {
                throw ValidationError("unknown mutant(s) \(unknown); known: \(catalog.map(\.0).joined(separator: ", "))")
            }
            catalog = catalog.filter { only.contains($0.0) }
        }

        // Baselines: without BINDER_MUTANT the mutant builds must pass, or every "kill" is spurious.
        let checkArgs = [Mutants.checkBinary, "check", "--count", String(propertyCount), "--seed", String(seed), "--no-shrink"]
        print("==> baseline (no mutant active): " + checkArgs.joined(separator: " "))
        var baselineOutput: [String] = []
        let baseline = Subprocess.run(checkArgs, environment: ["BINDER_MUTANT": nil]) { baselineOutput.append($0) }
        print("    " + (baselineOutput.last ?? "") + " (exit \(baseline.status))")
        guard baseline.status == 0 else {
            baselineOutput.suffix(40).forEach { print($0) }
            printError("binder-check: the unmutated driver fails the property check; fix that first")
            throw ExitCode(2)
        }
        let fuzzBinary = FuzzTarget.binary(mutants: true)
        let seedCorpus = CorpusFiles.isDirectory(FuzzTarget.seedCorpus) ? [FuzzTarget.seedCorpus] : []
        if !noFuzz {
            var env = FuzzTarget.environment
            env["BINDER_MUTANT"] = .some(nil)
            var out: [String] = []
            let r = Subprocess.run([fuzzBinary, "-runs=0"] + seedCorpus, environment: env) { out.append($0) }
            print("    seed corpus on the unmutated fuzz build: exit \(r.status)")
            guard r.status == 0 else {
                out.suffix(40).forEach { print($0) }
                printError("binder-check: the seed corpus diverges without any mutant; fix that first")
                throw ExitCode(2)
            }
        }

        var rows: [Row] = []
        for (name, description) in catalog {
            print("==> mutant \(name): \(description)")
            var output: [String] = []
            let check = Subprocess.run(checkArgs, environment: ["BINDER_MUTANT": name]) { output.append($0) }
            let propertyKilled = check.status != 0
            let note = output.last { $0.hasPrefix("check:") } ?? output.last ?? ""
            print("    property: \(propertyKilled ? "KILLED" : "survived") in \(formatSeconds(check.seconds)) — \(note)")
            var row = Row(name: name, description: description, propertyKilled: propertyKilled,
                          propertySeconds: check.seconds, propertyNote: note, fuzzKilled: nil, fuzzSeconds: 0, fuzzNote: "")
            if !noFuzz, fuzzAll || !propertyKilled {
                let dir = ".fuzz-mutants/" + name
                Files.removeTree(dir)
                var env = FuzzTarget.environment
                env["BINDER_MUTANT"] = name
                var fuzz = FuzzRun(binary: fuzzBinary, corpusDirectories: [dir + "/corpus"] + seedCorpus,
                                   artifactDirectory: dir + "/artifacts", seconds: fuzzTime)
                fuzz.environment = env
                // Fork mode: a leak or an out-of-memory input cannot end the run early and be
                // mistaken for a kill; only a crash file (a divergence) kills.
                fuzz.fork = true
                fuzz.jobs = max(1, fuzzJobs)
                let (stats, result, artifacts) = fuzz.run()
                let crashes = artifacts.filter { $0.split(separator: "/").last?.hasPrefix("crash-") == true }
                row.fuzzKilled = !crashes.isEmpty
                row.fuzzSeconds = result.seconds
                row.fuzzNote = stats.summary(seconds: result.seconds)
                let others = artifacts.count - crashes.count
                if others > 0 { row.fuzzNote += "; \(others) oom/timeout artifact(s), not counted" }
                print("    fuzz:     \(crashes.isEmpty ? "survived" : "KILLED") in \(formatSeconds(result.seconds)) — \(row.fuzzNote)"
                    + (crashes.first.map { "; crash file \($0)" } ?? ""))
            }
            rows.append(row)
        }

        print("")
        let nameWidth = max(6, rows.map(\.name.count).max() ?? 0)
        let descWidth = min(60, max(11, rows.map(\.description.count).max() ?? 0))
        func cell(_ killed: Bool?, _ seconds: Double) -> String {
            guard let killed else { return "-" }
            return (killed ? "killed" : "SURVIVED") + " (\(formatSeconds(seconds)))"
        }
        print("mutant".padded(nameWidth) + " | " + "description".padded(descWidth) + " | " + "property killed?".padded(20) + " | fuzz killed?")
        print(String(repeating: "-", count: nameWidth) + "-+-" + String(repeating: "-", count: descWidth) + "-+-"
            + String(repeating: "-", count: 20) + "-+-" + String(repeating: "-", count: 20))
        for r in rows {
            let desc = r.description.count > descWidth ? String(r.description.prefix(descWidth - 1)) + "…" : r.description
            print(r.name.padded(nameWidth) + " | " + desc.padded(descWidth) + " | "
                + cell(r.propertyKilled, r.propertySeconds).padded(20) + " | " + cell(r.fuzzKilled, r.fuzzSeconds))
        }
        let survivors = rows.filter { !$0.propertyKilled && $0.fuzzKilled != true }
        let byProperty = rows.filter(\.propertyKilled).count
        let byFuzz = rows.filter { $0.fuzzKilled == true }.count
        print("")
        print("\(rows.count) mutants: \(rows.count - survivors.count) killed (property \(byProperty), fuzz \(byFuzz)), \(survivors.count) survived"
            + (survivors.isEmpty ? "" : ": " + survivors.map(\.name).joined(separator: ", ")))
        if !survivors.isEmpty { throw ExitCode(1) }
    }
}
