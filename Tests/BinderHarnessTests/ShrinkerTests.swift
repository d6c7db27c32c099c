import BinderHarness
import BinderUAPI
import Testing

@Suite struct ShrinkerTests {
    /// A synthetic failure: "the scenario contains a BC_ACQUIRE command and a close".
    static func synthetic(_ s: Scenario) -> Divergence? {
        var acquire: Int?
        var close: Int?
        for (i, step) in s.steps.enumerated() {
            if case let .writeRead(wr) = step.action, wr.commands.contains(where: { if case .acquire = $0 { return true } else { return false } }) {
                acquire = acquire ?? i
            }
            if case .close = step.action, acquire != nil { close = i; break }
        }
        guard let c = close else { return nil }
        var d = template
        d.stepIndex = c
        d.step = s.steps[c]
        return d
    }

    /// A real `Divergence` value to reuse (its initializer is internal): a backend whose invariant
    /// check always fails, against the model.
    static let template: Divergence = {
        let s = Scenario(processCount: 1, steps: [Step(0, 0, .open)])
        return DifferentialRun(s, left: TweakedBackend(processCount: 1, brokenInvariant: "acquire then close", failingIoctl: nil), right: BackendKind.model.make(processCount: 1)).divergence!
    }()

    @Test("a synthetic failing check shrinks to a tiny scenario")
    func shrinksSynthetic() throws {
        var found: Scenario?
        for seed in UInt64(0)..<500 {
            let s = ScenarioGenerator.scenario(seed: seed)
            if Self.synthetic(s) != nil, s.steps.count > 20 { found = s; break }
        }
        let s = try #require(found, "no generated scenario with BC_ACQUIRE and close")
        let d = try #require(Self.synthetic(s))
        var shrinker = Shrinker(check: Self.synthetic)
        let small = shrinker.shrink(s, signature: d.signature)
        #expect(Self.synthetic(small) != nil)
        #expect(small.steps.count == 2, "shrunk to \(small.steps.count) steps:\n\(ScenarioText.render(small))")
        if case let .writeRead(wr) = small.steps.first?.action { #expect(wr.commands.count == 1) }
    }

    @Test("shrinking a real trace divergence keeps its signature and ends small")
    func shrinkKeepsSignature() throws {
        // The model against a backend that answers BINDER_SET_MAX_THREADS with -EINVAL: a real
        // outcome divergence in the middle of a generated scenario.
        func run(_ s: Scenario) -> Divergence? {
            DifferentialRun(s, left: BackendKind.model.make(processCount: s.processCount),
                            right: TweakedBackend(processCount: s.processCount, brokenInvariant: nil, failingIoctl: BinderIoctl.setMaxThreads.rawValue)).divergence
        }
        let seed = try #require((UInt64(0)..<200).first { run(ScenarioGenerator.scenario(seed: $0)) != nil })
        let original = ScenarioGenerator.scenario(seed: seed)
        let first = try #require(run(original))
        var shrinker = Shrinker(budget: 3000, check: run)
        let shrunk = shrinker.shrink(original, signature: first.signature)
        #expect(run(shrunk)?.signature == first.signature)
        #expect(shrunk.steps.count <= 3, "shrunk to \(shrunk.steps.count) of \(original.steps.count) steps")
    }
}

/// The model with a deliberate defect: an invariant check that always fails, or one ioctl
/// command that always returns -EINVAL.
final class TweakedBackend: BinderBackend {
    let inner: BinderBackend
    let brokenInvariant: String?
    let failingIoctl: UInt32?
    var backendName: String { "tweaked" }
    convenience init(processCount: Int) { self.init(processCount: processCount, brokenInvariant: nil, failingIoctl: nil) }
    init(processCount: Int, brokenInvariant: String?, failingIoctl: UInt32?) {
        inner = BackendKind.model.make(processCount: processCount)
        self.brokenInvariant = brokenInvariant
        self.failingIoctl = failingIoctl
    }
    func pid(of process: ProcessIndex) -> Int32 { inner.pid(of: process) }
    func writeUser(_ process: ProcessIndex, address: UInt64, bytes: [UInt8]) { inner.writeUser(process, address: address, bytes: bytes) }
    func readUser(_ process: ProcessIndex, address: UInt64, count: Int) -> [UInt8] { inner.readUser(process, address: address, count: count) }
    func readMapping(_ process: ProcessIndex, offset: UInt64, count: Int) -> [UInt8]? { inner.readMapping(process, offset: offset, count: count) }
    func open(_ process: ProcessIndex, blocking: Bool) -> Int32 { inner.open(process, blocking: blocking) }
    func poll(_ process: ProcessIndex, thread: ThreadIndex, blocking: Bool) -> Int32 { inner.poll(process, thread: thread, blocking: blocking) }
    func signal(_ process: ProcessIndex, thread: ThreadIndex, restart: Bool) { inner.signal(process, thread: thread, restart: restart) }
    func flushDuplicate(_ process: ProcessIndex) -> Int32 { inner.flushDuplicate(process) }
    func newFile(_ process: ProcessIndex, kind: FileKind) -> Int32 { inner.newFile(process, kind: kind) }
    func closeFd(_ process: ProcessIndex, fd: Int32) -> Int32 { inner.closeFd(process, fd: fd) }
    func fileIdentity(_ process: ProcessIndex, fd: Int32) -> FileIdentity { inner.fileIdentity(process, fd: fd) }
    func setFdLimit(_ process: ProcessIndex, limit: UInt32) -> Int32 { inner.setFdLimit(process, limit: limit) }
    func exit(_ process: ProcessIndex) { inner.exit(process) }
    func sleep(milliseconds: UInt32) { inner.sleep(milliseconds: milliseconds) }
    func takeCompletions() -> [ThreadCompletion] { inner.takeCompletions() }
    var lastCallIsSchedulingDependent: Bool { inner.lastCallIsSchedulingDependent }
    func mmap(_ process: ProcessIndex, length: UInt64, prot: UInt32) -> MmapResult { inner.mmap(process, length: length, prot: prot) }
    func munmap(_ process: ProcessIndex) -> Int32 { inner.munmap(process) }
    func close(_ process: ProcessIndex) -> Int32 { inner.close(process) }
    func ioctl(_ process: ProcessIndex, thread: ThreadIndex, command: UInt32, argument: UInt64) -> Int32 {
        if command == failingIoctl { return -Errno.EINVAL.rawValue }
        return inner.ioctl(process, thread: thread, command: command, argument: argument)
    }
    var copiedBytes: UInt64 { inner.copiedBytes }
    func checkInvariants() -> String? { brokenInvariant ?? inner.checkInvariants() }
}
