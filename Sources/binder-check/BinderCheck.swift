import ArgumentParser

/// `binder-check`: the conformance harness's command-line tool.
@main
struct BinderCheck: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "binder-check",
        abstract: "Differential conformance harness for the Linux Binder driver: model vs optimized driver.",
        discussion: """
        The main job is `binder-check fuzz`: a coverage-guided libFuzzer campaign that runs every input \
        on the reference model and the optimized driver in lockstep and stops at the first divergence. \
        Crash files are scenarios: `replay`, `explain` and `minimize` them.
        """,
        subcommands: [
            Fuzz.self, Replay.self, Explain.self, Encode.self, Minimize.self, Merge.self,
            Generate.self, Check.self, Mutants.self, Bench.self, ListMutants.self, MemCheck.self,
        ] + platformSubcommands)
}

#if os(Linux)
/// The kernel oracle needs Linux (binderfs, QEMU, static glibc binaries).
private let platformSubcommands: [ParsableCommand.Type] = [Kernel.self]
#else
private let platformSubcommands: [ParsableCommand.Type] = []
#endif
