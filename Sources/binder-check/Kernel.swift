import ArgumentParser
import BinderHarness
#if os(Linux)
import BinderKernel
import Glibc

/// `binder-check kernel …`: the real-kernel oracle (Linux 6.12 binder under QEMU).
struct Kernel: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Replay scenarios on a real Linux binder in a QEMU VM and compare with the model.",
        subcommands: [BuildImage.self, KernelReplay.self, Compare.self, Analyses.self, GuestRun.self, Child.self])
}

/// Where the kernel comes from: a named profile (kernel/profiles/<name>.profile) or a bzImage.
struct KernelChoice: ParsableArguments {
    @Option(help: "Kernel profile in kernel/profiles (default 6.12).")
    var profile: String = "6.12"
    @Option(help: "A prebuilt bzImage to boot instead of building a profile.")
    var bzimage: String?
    @Option(help: "Parallel jobs for the kernel build.")
    var jobs: Int = 2

    func resolve() throws -> (bzImage: String, release: String) {
        if let bzimage {
            guard HostTools.exists(bzimage) else { throw ValidationError("no such bzImage: \(bzimage)") }
            return (bzimage, "prebuilt")
        }
        guard let p = KernelProfile.load(profile, repository: repositoryRoot()) else {
            throw ValidationError("unknown kernel profile \(profile) (see kernel/profiles)")
        }
        guard let built = KernelImage.build(p, jobs: jobs, log: { print($0); flushOutput() }) else {
            throw ExitCode(2)
        }
        return built
    }
}

/// The repository root: the current directory (commands run from a checkout).
func repositoryRoot() -> String {
    var buf = [CChar](repeating: 0, count: 4096)
    return getcwd(&buf, buf.count).map { String(cString: $0) } ?? "."
}

extension Kernel {
    struct BuildImage: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "build-image", abstract: "Build (or reuse) the kernel image of a profile.")
        @OptionGroup var kernel: KernelChoice
        func run() throws {
            let t = monotonicSeconds()
            let r = try kernel.resolve()
            print("kernel image: \(r.bzImage) (\(r.release)) in \(formatSeconds(monotonicSeconds() - t))")
        }
    }

    struct KernelReplay: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "replay",
            abstract: "Replay scenario files (and generated scenarios) on the kernel; compare with the model.")
        @OptionGroup var kernel: KernelChoice
        @Argument(help: "Scenario files or directories.")
        var paths: [String] = []
        @Option(help: "Also run this many generated scenarios, spread over the generator profiles in turn.")
        var generate: Int = 0
        @Option(help: "First seed of the generated scenarios.")
        var seed: UInt64 = 0x6b65_726e_0000
        @Option(help: "Generator profiles (comma separated) or 'all'.")
        var profiles: String = "all"
        @Option(help: "Replay everything this many times (separate boots) and report scenarios whose kernel traces differ between runs.")
        var repeatBoots: Int = 1
        @Option(help: "Scenarios per VM boot.")
        var batch: Int = 400
        @Flag(help: "Write each file's kernel trace beside it as <file>.trace.")
        var record = false
        @Option(help: "Write each mismatching scenario into this directory.")
        var saveMismatches: String?

        func run() throws {
            let start = monotonicSeconds()
            let image = try kernel.resolve()
            let binary = try buildGuestBinary()
            var files = CorpusFiles.loadScenarios(paths)
            let chosen = try GeneratorProfile.parseList(profiles)
            for i in 0..<generate {
                let profile = chosen[i % chosen.count], s = seed &+ UInt64(i)
                files.append(("generated-\(profile.rawValue)-seed-\(s)", profile.scenario(seed: s)))
            }
            guard !files.isEmpty else { throw ValidationError("nothing to replay") }
            var oracle = KernelOracle(bzImage: image.bzImage, binary: binary, workDir: repositoryRoot() + "/.build-kernel/work")
            oracle.batchSize = batch
            let t = monotonicSeconds()
            let r = oracle.run(files) { print($0); flushOutput() }
            var unstable = 0
            for run in 1..<max(1, repeatBoots) {
                let again = oracle.run(files) { print($0); flushOutput() }
                for (a, b) in zip(r.results, again.results) where a.kernel != b.kernel {
                    unstable += 1
                    print("UNSTABLE \(a.file): run \(run + 1) gave another kernel trace")
                }
            }
            let vmSeconds = monotonicSeconds() - t
            var mismatches = 0, missing = 0, steps = 0
            for res in r.results {
                steps += res.scenario.steps.count
                if record, !res.missing {
                    CorpusFiles.writeText(res.file + ".trace", res.kernel.map { TraceCodec.hex(TraceCodec.encode($0)) }.joined(separator: "\n") + "\n")
                }
                if res.missing {
                    missing += 1
                    print("MISSING \(res.file): kernel trace has \(res.kernel.count) of \(res.scenario.steps.count) steps")
                } else if let d = res.divergence {
                    mismatches += 1
                    print("MISMATCH \(res.file) (kernel \(r.release))\n" + d.report(res.scenario))
                    if let dir = saveMismatches {
                        CorpusFiles.makeDirectory(dir)
                        CorpusFiles.write("\(dir)/\(CorpusFiles.fileName(for: res.scenario))", try WireFormat.encode(res.scenario))
                    }
                }
            }
            let n = r.results.count
            let boots = r.bootSeconds.map { formatSeconds($0) }.joined(separator: ", ")
            print("kernel \(r.release): \(n) scenarios (\(steps) steps, avg \(n > 0 ? steps / n : 0)), \(n - mismatches - missing) match, \(mismatches) mismatch, \(missing) missing")
            if repeatBoots > 1 { print("repeated \(repeatBoots) times: \(unstable) scenario runs gave a different kernel trace") }
            let blocking = r.results.filter { $0.kernel.contains { $0.parked || !$0.completions.isEmpty } }.count
            print("\(blocking) of \(n) scenarios parked or woke a thread on the kernel")
            print("VM time \(formatSeconds(vmSeconds)) in \(r.bootSeconds.count) boot(s) [\(boots)]; \(fixedPoint(Double(n) / max(vmSeconds, 0.001), digits: 1)) scenarios/s; total \(formatSeconds(monotonicSeconds() - start))")
            if mismatches + missing + unstable > 0 { throw ExitCode(1) }
        }

        /// Builds the statically linked harness for the guest and strips it.
        func buildGuestBinary() throws -> String {
            let scratch = ".build-static"
            let t = monotonicSeconds()
            let r = Subprocess.run(["swift", "build", "-c", "release", "--product", "binder-check", "--scratch-path", scratch,
                                    "--static-swift-stdlib", "-Xswiftc", "-static-executable"])
            guard r.status == 0 else { printError("guest binary build failed"); throw ExitCode(2) }
            let out = "\(scratch)/binder-check.guest"
            // Strip to a private name and rename: a comparison already running keeps booting a
            // whole binary.
            let partial = "\(out).\(getpid())"
            guard HostTools.sh("strip -o \(partial) \(scratch)/release/binder-check && mv -f \(partial) \(out)") == 0 else { throw ExitCode(2) }
            print("guest binary: \(out) (\(formatSeconds(monotonicSeconds() - t)))")
            return out
        }
    }

    static func perMinute(_ n: Int, _ seconds: Double) -> Int { Int((Double(n) * 60 / max(seconds, 0.001)).rounded()) }

    /// `kernel analyses`: refresh the hand-written analyses inside a generated report.
    struct Analyses: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Refresh the hand-written class analyses inside a report written by `kernel compare`.")
        @Option(help: "The report to update in place.")
        var report: String = "docs/RUST-VS-C-BINDER.md"
        @Option(help: "Hand-written analyses, one `## <key>` section per class.")
        var analyses: String = "docs/divergence-analyses.md"

        func run() throws {
            guard let bytes = CorpusFiles.read(report) else { throw ValidationError("cannot read \(report)") }
            let text = ComparisonReport.refreshAnalyses(String(decoding: bytes, as: UTF8.self), ComparisonReport.loadAnalyses(analyses))
            CorpusFiles.writeText(report, text)
            let missing = text.split(separator: "\n").filter { $0.hasPrefix("_Analysis: not written yet") }.count
            print("\(report): analyses refreshed; \(missing) class(es) without an analysis")
        }
    }

    /// `kernel compare A B`: any two of model, driver, kernel profiles or bzImages.
    struct Compare: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Compare two backends (model, driver, a kernel profile, or bzimage:PATH) on the same scenarios.",
            discussion: """
            Runs the files given plus --generate scenarios of every generator profile on both sides, clusters \
            the divergences by signature (operation and first differing field), shrinks one representative \
            per class in batches (one VM boot per side evaluates every class's candidates), confirms each \
            minimal scenario on --confirm boots, and prints (or writes with --report) a Markdown report. \
            With --also A:B a second comparison is added to the same report.
            """)
        @Argument(help: "Left side: model, driver, a profile in kernel/profiles, or bzimage:PATH.")
        var left: String
        @Argument(help: "Right side.")
        var right: String
        @Argument(help: "Scenario files or directories to include.")
        var paths: [String] = []
        @Option(help: "Generated scenarios per generator profile.")
        var generate: Int = 200
        @Option(help: "Generator profiles (comma separated) or 'all'.")
        var profiles: String = "all"
        @Option(help: "First seed.")
        var seed: UInt64 = 0x72_7573_7400
        @Option(help: "Runs per minimal scenario to confirm it reproduces.")
        var confirm: Int = 3
        @Option(help: "Another comparison for the same report, as LEFT:RIGHT (e.g. model:7.2-c).")
        var also: [String] = []
        @Option(help: "Write the Markdown report here.")
        var report: String?
        @Option(help: "Hand-written analyses, one `## <key>` section per class.")
        var analyses: String = "docs/divergence-analyses.md"
        @Option(help: "Scenarios per VM boot.")
        var batch: Int = 400
        @Option(help: "Batched shrink rounds per comparison (each boots every kernel side once).")
        var shrinkRounds: Int = 30
        @Option(help: "Shrink candidates per class and round.")
        var candidates: Int = 120
        @Flag(help: "Exit non-zero when more than 5% of the scenarios give no complete trace on a side (CI).")
        var requireComplete = false
        @Option(help: "Also run this generated scenario, as PROFILE:SEED (repeatable; e.g. a class's `first:` scenario).")
        var scenario: [String] = []
        @Option(help: "Write each class's minimal scenario into this directory as <key>.bscn.")
        var saveMinimal: String?
        @Option(help: "Instead of writing a new report, put every smaller confirmed minimal scenario into this existing report.")
        var refine: String?
        @Option(help: "Stop shrinking a class once its minimal scenario has at most this many steps (0: shrink to a local minimum).")
        var stopAtSteps: Int = 0
        @Option(help: "Title of the first comparison's report section (default: LEFT vs RIGHT); --refine finds the section by it.")
        var title: String?

        func side(_ name: String) throws -> ComparisonSide {
            switch name {
            case "model": return .model
            case "driver": return .driver
            default:
                if name.hasPrefix("bzimage:") {
                    let path = String(name.dropFirst(8))
                    guard HostTools.exists(path) else { throw ValidationError("no such bzImage \(path)") }
                    return .kernel(name: "bzimage", bzImage: path, release: "prebuilt")
                }
                guard let p = KernelProfile.load(name, repository: repositoryRoot()) else {
                    throw ValidationError("unknown side \(name): use model, driver, bzimage:PATH or a profile in kernel/profiles")
                }
                guard let built = KernelImage.build(p, log: { print($0); flushOutput() }) else { throw ExitCode(2) }
                return .kernel(name: name, bzImage: built.bzImage, release: built.release)
            }
        }

        func run() throws {
            let start = monotonicSeconds()
            var pairs = [(left, right)]
            for a in also {
                let parts = a.split(separator: ":", maxSplits: 1).map(String.init)
                guard parts.count == 2 else { throw ValidationError("--also wants LEFT:RIGHT") }
                pairs.append((parts[0], parts[1]))
            }
            var needsKernel = false
            var resolved: [(ComparisonSide, ComparisonSide)] = []
            for (l, r) in pairs {
                let a = try side(l), b = try side(r)
                if case .kernel = a { needsKernel = true }
                if case .kernel = b { needsKernel = true }
                resolved.append((a, b))
            }
            let binary = needsKernel ? try KernelReplay().buildGuestBinary() : ""
            var named = CorpusFiles.loadScenarios(paths)
            var counts: [String: Int] = named.isEmpty ? [:] : ["files": named.count]
            let chosen = try GeneratorProfile.parseList(profiles)
            for profile in chosen {
                for i in 0..<generate {
                    let s = seed &+ UInt64(i)
                    named.append(("\(profile.rawValue)-seed-\(s)", profile.scenario(seed: s)))
                }
                counts[profile.rawValue] = generate
            }
            for spec in scenario {
                let parts = spec.split(separator: ":", maxSplits: 1).map(String.init)
                guard parts.count == 2, let g = GeneratorProfile(rawValue: parts[0]), let s = UInt64(parts[1]) else {
                    throw ValidationError("--scenario wants PROFILE:SEED, got \(spec)")
                }
                named.append(("\(g.rawValue)-seed-\(s)", g.scenario(seed: s)))
                counts["chosen", default: 0] += 1
            }
            var sections: [ComparisonReport.Section] = []
            // Per process, so that two comparisons at once never share boot directories; removed
            // at the end (each boot leaves an initramfs of several MB).
            let work = repositoryRoot() + "/.build-kernel/compare/\(getpid())"
            defer { _ = HostTools.sh("rm -rf '\(work)'") }
            var traceCache: [String: Comparison.Traces] = [:]
            var sideSeconds: [String: Double] = [:]
            var incomplete = false
            for (a, b) in resolved {
                let t = monotonicSeconds()
                let defaultTitle = "\(a.shortName) vs \(b.shortName)"
                print("== \(a) vs \(b): \(named.count) scenarios")
                flushOutput()
                var lr = SideRunner(side: a, binary: binary, workDir: work, log: { print($0); flushOutput() })
                var rr = SideRunner(side: b, binary: binary, workDir: work, log: { print($0); flushOutput() })
                lr.batchSize = batch; rr.batchSize = batch
                var cmp = Comparison(left: lr, right: rr, log: { print($0); flushOutput() })
                cmp.maxShrinkRounds = shrinkRounds
                cmp.candidatesPerClass = candidates
                cmp.stopAtSteps = stopAtSteps
                if let dir = saveMinimal {
                    // Each round's progress is saved, so a run that is stopped keeps it.
                    CorpusFiles.makeDirectory(dir)
                    let scope = sections.isEmpty ? nil : defaultTitle
                    cmp.checkpoint = { sig, minimal in
                        let name = ComparisonReport.analysisKey(ComparisonReport.key(sig), scope: scope)
                        if let bytes = try? WireFormat.encode(minimal) {
                            CorpusFiles.write("\(dir)/\(name.split(separator: " ").joined(separator: "-")).bscn", bytes)
                        }
                    }
                }
                let scenarios = named.map(\.scenario)
                // Sides not run yet run at the same time, each timed on its own.
                let pending = [(a, lr), (b, rr)].filter { traceCache[$0.0.description] == nil }
                let runs = Comparison.runConcurrently(pending.map { _, runner in { runner.run(scenarios) } })
                for ((side, _), run) in zip(pending, runs) {
                    traceCache[side.description] = run.value
                    sideSeconds[side.description] = run.seconds
                    print("\(side): \(scenarios.count) scenarios in \(formatSeconds(run.seconds))"
                          + " (\(Kernel.perMinute(scenarios.count, run.seconds)) scenarios/min, sharing the CPUs with the other side)")
                    flushOutput()
                }
                let r = cmp.run(named, confirmBoots: confirm, leftTraces: traceCache[a.description], rightTraces: traceCache[b.description])
                func reach(_ traces: Comparison.Traces) -> TraceReach {
                    var reach = TraceReach()
                    for (s, t) in zip(scenarios, traces) { if let t { reach.add(s, t) } }
                    return reach
                }
                let minutes = (monotonicSeconds() - t) / 60
                print("\(a) vs \(b): \(r.classes.count) classes from \(r.compared) scenarios in \(formatSeconds(monotonicSeconds() - t))"
                      + " (\(fixedPoint(Double(r.compared) / max(minutes, 0.01), digits: 0)) scenarios/min)")
                for (n, c) in r.classes.enumerated() {
                    print("  \(n + 1). [\(c.count) scenarios, minimal \(c.minimal.steps.count) steps, \(c.confirmations)/\(c.confirmationRuns)] \(c.signature)")
                }
                var section = ComparisonReport.Section(title: sections.isEmpty ? title ?? defaultTitle : defaultTitle, left: a, right: b, classes: r.classes,
                                                       compared: r.compared, missing: r.missing, scenarioCounts: counts)
                section.leftReach = reach(r.leftTraces)
                section.rightReach = reach(r.rightTraces)
                section.scenariosPerMinute = [a, b].compactMap { side in
                    sideSeconds[side.description].map { (side.shortName, Kernel.perMinute(scenarios.count, $0)) }
                }
                sections.append(section)
                if let dir = saveMinimal {
                    CorpusFiles.makeDirectory(dir)
                    // Named by analysis key: a signature can occur in several comparisons.
                    let scope = ComparisonReport.scope(sections.count - 1, section)
                    for c in r.classes {
                        let name = ComparisonReport.analysisKey(ComparisonReport.key(c.signature), scope: scope)
                        CorpusFiles.write("\(dir)/\(name.split(separator: " ").joined(separator: "-")).bscn", try WireFormat.encode(c.minimal))
                    }
                }
                if requireComplete, r.compared == 0 || r.missing * 20 > named.count {
                    print("error: \(r.missing) of \(named.count) scenarios gave no complete trace")
                    incomplete = true
                }
            }
            let header = """
            # Binder semantic comparison

            Generated by `binder-check kernel compare \(CommandLine.arguments.dropFirst(3).joined(separator: " "))` \
            in \(formatSeconds(monotonicSeconds() - start)). Each class is one kind of difference, found by \
            replaying the same scenarios on both sides and grouping first divergent steps by operation and \
            differing field; its minimal scenario was shrunk on the real kernels and re-run to confirm it.
            """
            if let refine {
                guard let bytes = CorpusFiles.read(refine) else { throw ValidationError("cannot read \(refine)") }
                var text = String(decoding: bytes, as: UTF8.self)
                var refined = 0
                for section in sections {
                    let r = ComparisonReport.refine(text, with: section)
                    text = r.text
                    refined += r.refined.count
                    print("\(section.title): refined \(r.refined.count) class(es) \(r.refined)")
                }
                text = ComparisonReport.noteRefinement(text, "Refined by `binder-check kernel compare "
                    + CommandLine.arguments.dropFirst(3).joined(separator: " ") + "` in \(formatSeconds(monotonicSeconds() - start)): "
                    + "\(refined) class(es) got a confirmed minimal scenario no larger than before.")
                CorpusFiles.writeText(refine, text)
                if incomplete { throw ExitCode(1) }
                return
            }
            let text = ComparisonReport.render(header: header, sections: sections, analyses: ComparisonReport.loadAnalyses(analyses))
            if let report {
                CorpusFiles.writeText(report, text + "\n")
                print("report written to \(report)")
            } else {
                print(text)
            }
            if incomplete { throw ExitCode(1) }
        }
    }

    struct GuestRun: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "guest-run", abstract: "(inside the VM) replay a directory of scenarios on binderfs.", shouldDisplay: false)
        @Argument var directory: String
        func run() throws {
            let exe = CommandLine.arguments[0].hasPrefix("/") ? CommandLine.arguments[0] : "/bin/binder-check"
            throw ExitCode(GuestOracle.run(directory: directory, executable: exe))
        }
    }

    struct Child: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "(inside the VM) one scenario process.", shouldDisplay: false)
        @Argument var device: String
        func run() throws { KernelChild.run(devicePath: device) }
    }
}
#endif
