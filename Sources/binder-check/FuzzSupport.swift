import ArgumentParser
import BinderHarness

/// Building and running the libFuzzer target `DifferentialFuzzer`.
enum FuzzTarget {
    static let product = "DifferentialFuzzer"
    static let dictionary = "FuzzTargets/DifferentialFuzzer/binder.dict"
    static let seedCorpus = "Corpus/differential"

    static func scratchPath(mutants: Bool) -> String { mutants ? ".build-fuzz-mutants" : ".build-fuzz" }

    static func binary(mutants: Bool) -> String { scratchPath(mutants: mutants) + "/release/" + product }

    /// The SwiftPM command that builds the fuzz target (every target instrumented for coverage).
    static func buildCommand(mutants: Bool) -> [String] {
        var args = ["swift", "build", "-c", "release", "--product", product,
                    "--scratch-path", scratchPath(mutants: mutants),
                    "--sanitize=fuzzer", "-Xswiftc", "-DLIBFUZZER_MAIN"]
        if mutants { args += ["-Xswiftc", "-DBINDER_MUTANTS"] }
        return args
    }

    /// Builds the fuzz target; throws on failure. Returns the binary's path.
    static func build(mutants: Bool, quiet: Bool = false) throws -> String {
        print("==> building the fuzz target: \(buildCommand(mutants: mutants).joined(separator: " "))")
        let result: Subprocess.Result
        if quiet {
            var log: [String] = []
            result = Subprocess.run(buildCommand(mutants: mutants)) { log.append($0) }
            if result.status != 0 { log.suffix(60).forEach { print($0) } }
        } else {
            result = Subprocess.run(buildCommand(mutants: mutants))
        }
        guard result.status == 0 else {
            printError("binder-check: building the fuzz target failed (exit \(result.status))")
            throw ExitCode(2)
        }
        print("    built in \(formatSeconds(result.seconds))")
        return binary(mutants: mutants)
    }

    /// The environment every fuzz run uses: the Swift backtracer must not take the crash signal,
    /// or libFuzzer writes no crash file.
    /// Also keeps glibc from returning freed mapping arenas to the kernel after every input
    /// (each run maps up to a few MiB per process; re-faulting them dominated the exec time).
    static let environment: [String: String?] = [
        "SWIFT_BACKTRACE": "enable=no",
        "GLIBC_TUNABLES": "glibc.malloc.trim_threshold=67108864:glibc.malloc.mmap_threshold=67108864",
    ]
}

/// What a libFuzzer run printed, parsed.
struct FuzzStats {
    var executions: UInt64?
    var execPerSecond: UInt64?
    var coverage: UInt64?
    var features: UInt64?
    var corpusUnits: UInt64?
    var newUnits: UInt64?
    var peakRSS: UInt64?
    var crashPath: String?
    var deadlySignal = false
    var lastStatus: String?

    /// Reads one line of libFuzzer output.
    mutating func read(_ line: String) {
        let tokens = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        func value(after key: String) -> UInt64? {
            guard let i = tokens.firstIndex(of: key), i + 1 < tokens.count else { return nil }
            return UInt64(tokens[i + 1].prefix { $0.isNumber })
        }
        if line.hasPrefix("stat::") {
            let parts = line.split(separator: ":", omittingEmptySubsequences: true).map { $0.trimmingSpaces }
            guard parts.count >= 2, let v = UInt64(parts.last!) else { return }
            switch parts[1] {
            case "number_of_executed_units": executions = v
            case "average_exec_per_sec": if v > 0 { execPerSecond = v }  // 0 in -fork mode
            case "new_units_added": newUnits = v
            case "peak_rss_mb": peakRSS = v
            default: break
            }
            return
        }
        if line.hasPrefix("#"), tokens.contains("cov:") {
            // "#1234\tNEW    cov: 812 ft: 2301 corp: 40/3Kb ... exec/s: 1500 rss: 40Mb"  or, in fork
            // mode, "#1234: cov: 812 ft: 2301 corp: 40 exec/s 1500 oom/timeout/crash: 0/0/0 time: 3s ..."
            lastStatus = line
            let head = tokens[0].dropFirst().prefix { $0.isNumber }
            if let n = UInt64(head) { executions = max(executions ?? 0, n) }
            if let c = value(after: "cov:") { coverage = c }
            if let f = value(after: "ft:") { features = f }
            if let i = tokens.firstIndex(of: "corp:"), i + 1 < tokens.count {
                corpusUnits = UInt64(tokens[i + 1].prefix { $0.isNumber })
            }
            if let e = value(after: "exec/s:") ?? value(after: "exec/s") { execPerSecond = e }
        }
        if line.contains("deadly signal") { deadlySignal = true }
        let marker = "Test unit written to "
        if let i = line.firstRange(of: marker) {
            crashPath = String(line[i.upperBound...]).trimmingSpaces
        }
    }

    func summary(seconds: Double) -> String {
        var parts: [String] = []
        if let e = executions { parts.append("\(grouped(e)) executions") }
        let rate = execPerSecond ?? executions.map { UInt64(Double($0) / max(seconds, 0.001)) }
        if let r = rate { parts.append("\(grouped(r)) exec/s") }
        if let c = coverage { parts.append("cov \(c)") }
        if let f = features { parts.append("ft \(f)") }
        if let u = corpusUnits { parts.append("corpus \(u) units") }
        if let n = newUnits { parts.append("\(n) new") }
        if let r = peakRSS { parts.append("peak RSS \(r) MB") }
        parts.append("in \(formatSeconds(seconds))")
        return parts.joined(separator: ", ")
    }
}

extension StringProtocol {
    var trimmingSpaces: String {
        String(drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" || $0 == "\r" }.reversed())
    }
}

/// One run of a libFuzzer binary.
struct FuzzRun {
    var binary: String
    var corpusDirectories: [String]
    var artifactDirectory: String
    var seconds: Int
    var jobs: Int = 1
    /// Fork mode even with one job: each libFuzzer job is a child process, so memory a run leaks
    /// is returned when the job ends, and an out-of-memory job is retried (-ignore_ooms).
    var fork = false
    var extraFlags: [String] = []
    var environment: [String: String?] = FuzzTarget.environment
    /// Which lines to echo: nil echoes none, otherwise a predicate.
    var echo: ((String) -> Bool)? = nil

    var arguments: [String] {
        var args = [binary]
        args += ["-max_total_time=\(seconds)", "-print_final_stats=1",
                 "-artifact_prefix=" + (artifactDirectory.hasSuffix("/") ? artifactDirectory : artifactDirectory + "/")]
        if Files.exists(FuzzTarget.dictionary) { args.append("-dict=" + FuzzTarget.dictionary) }
        if jobs > 1 || fork { args += ["-fork=\(jobs)"] }
        args += extraFlags
        args += corpusDirectories
        return args
    }

    /// Runs the fuzzer; returns its stats, its exit status and the crash files it wrote.
    func run() -> (stats: FuzzStats, result: Subprocess.Result, crashes: [String]) {
        for d in corpusDirectories.prefix(1) + [artifactDirectory] { CorpusFiles.makeDirectory(d) }
        let before = Set(Files.list(artifactDirectory))
        var stats = FuzzStats()
        let result = Subprocess.run(arguments, environment: environment) { line in
            stats.read(line)
            if let echo, echo(line) { print(line); flushOutput() }
        }
        let crashes = Files.list(artifactDirectory)
            .filter { !before.contains($0) && ($0.hasPrefix("crash-") || $0.hasPrefix("timeout-") || $0.hasPrefix("oom-") || $0.hasPrefix("leak-")) }
            .map { Files.join(artifactDirectory, $0) }
        return (stats, result, crashes)
    }
}
