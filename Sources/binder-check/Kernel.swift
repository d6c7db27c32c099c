import ArgumentParser
import BinderHarness
#if os(Linux)
import BinderKernel
import Glibc

/// `binder-check kernel …`: the real-kernel oracle (Linux 6.12 binder under QEMU).
struct Kernel: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Replay scenarios on a real Linux binder in a QEMU VM and compare with the model.",
        subcommands: [BuildImage.self, KernelReplay.self, GuestRun.self, Child.self])
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
        @Option(help: "Also run this many generated scenarios.")
        var generate: Int = 0
        @Option(help: "First seed of the generated scenarios.")
        var seed: UInt64 = 0x6b65_726e_0000
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
            var files: [(name: String, scenario: Scenario)] = []
            for path in paths {
                for f in CorpusFiles.scenarioFiles(path) {
                    guard let bytes = CorpusFiles.read(f) else { continue }
                    files.append((f, WireFormat.decode(bytes)))
                }
            }
            for i in 0..<generate {
                var g = ScenarioGenerator(seed: seed &+ UInt64(i))
                files.append(("generated-seed-\(seed &+ UInt64(i))", g.generate()))
            }
            guard !files.isEmpty else { throw ValidationError("nothing to replay") }
            var oracle = KernelOracle(bzImage: image.bzImage, binary: binary, workDir: repositoryRoot() + "/.build-kernel/work")
            oracle.batchSize = batch
            let t = monotonicSeconds()
            let r = oracle.run(files) { print($0); flushOutput() }
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
                        CorpusFiles.write("\(dir)/\(CorpusFiles.fileName(for: res.scenario))", WireFormat.encode(res.scenario))
                    }
                }
            }
            let n = r.results.count
            let boots = r.bootSeconds.map { formatSeconds($0) }.joined(separator: ", ")
            print("kernel \(r.release): \(n) scenarios (\(steps) steps, avg \(n > 0 ? steps / n : 0)), \(n - mismatches - missing) match, \(mismatches) mismatch, \(missing) missing")
            print("VM time \(formatSeconds(vmSeconds)) in \(r.bootSeconds.count) boot(s) [\(boots)]; \(fixedPoint(Double(n) / max(vmSeconds, 0.001), digits: 1)) scenarios/s; total \(formatSeconds(monotonicSeconds() - start))")
            if mismatches + missing > 0 { throw ExitCode(1) }
        }

        /// Builds the statically linked harness for the guest and strips it.
        func buildGuestBinary() throws -> String {
            let scratch = ".build-static"
            let t = monotonicSeconds()
            let r = Subprocess.run(["swift", "build", "-c", "release", "--product", "binder-check", "--scratch-path", scratch,
                                    "--static-swift-stdlib", "-Xswiftc", "-static-executable"])
            guard r.status == 0 else { printError("guest binary build failed"); throw ExitCode(2) }
            let out = "\(scratch)/binder-check.guest"
            guard HostTools.sh("strip -o \(out) \(scratch)/release/binder-check") == 0 else { throw ExitCode(2) }
            print("guest binary: \(out) (\(formatSeconds(monotonicSeconds() - t)))")
            return out
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
