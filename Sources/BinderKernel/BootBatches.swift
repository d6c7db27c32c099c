#if os(Linux)
import BinderHarness
import Dispatch
import Glibc

/// Runs many scenarios on one kernel image: split into batches of `batchSize`, one VM boot per
/// batch, up to `parallelBoots` VMs at a time (each QEMU is single-threaded under TCG and each
/// guest is independent, so results do not depend on the parallelism).
public struct BootBatches {
    public var bzImage: String
    public var binary: String
    public var workDir: String
    public var batchSize = 400
    public var parallelBoots = BootBatches.defaultParallelBoots
    public var timeoutSeconds = 1200
    public var debugState = false

    /// One VM per online CPU, overridable with BINDER_CHECK_VMS.
    public static var defaultParallelBoots: Int {
        if let v = HostTools.environment("BINDER_CHECK_VMS").flatMap({ Int($0) }), v > 0 { return v }
        return max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    }

    public struct Result {
        /// Outcomes per scenario, in input order; empty when the guest printed none.
        public var traces: [[StepOutcome]]
        public var release: String
        public var bootSeconds: [Double]
        public var errors: [String]
    }

    public init(bzImage: String, binary: String, workDir: String) {
        self.bzImage = bzImage; self.binary = binary; self.workDir = workDir
    }

    public func run(_ scenarios: [Scenario], log: @escaping (String) -> Void) -> Result {
        // Spread small runs over all VMs too: a boot costs about 2 s, a scenario about 0.2 s.
        let width = max(1, parallelBoots)
        let size = max(1, min(batchSize, (scenarios.count + width - 1) / width))
        let starts = Array(stride(from: 0, to: scenarios.count, by: size))
        let perBatch = Slots<VirtualMachine.BootResult>(count: starts.count)
        let lock = HostMutex()
        let slots = DispatchSemaphore(value: width)
        let group = DispatchGroup()
        for (b, start) in starts.enumerated() {
            slots.wait()
            group.enter()
            DispatchQueue.global().async {
                defer { slots.signal(); group.leave() }
                let chunk = scenarios[start..<min(scenarios.count, start + size)]
                let named = chunk.enumerated().map { (zeroPadded6(start + $0.offset), WireFormat.bytes(of: $0.element)) }
                lock.locked { log("kernel: boot \(b + 1)/\(starts.count) with \(chunk.count) scenarios") }
                let r = VirtualMachine.boot(bzImage: bzImage, binary: binary, scenarios: named, workDir: "\(workDir)/boot\(b)",
                                            timeoutSeconds: timeoutSeconds, debugState: debugState)
                lock.locked { perBatch.values[b] = r }
            }
        }
        group.wait()
        var result = Result(traces: [], release: "?", bootSeconds: [], errors: [])
        for (b, start) in starts.enumerated() {
            let count = min(scenarios.count, start + size) - start
            guard let boot = perBatch.values[b] else {
                result.errors.append("boot \(b + 1): could not build the initramfs")
                result.traces += Array(repeating: [], count: count)
                continue
            }
            result.release = boot.kernelRelease
            result.bootSeconds.append(boot.bootSeconds)
            result.errors += boot.errors
            for i in 0..<count { result.traces.append(boot.traces[zeroPadded6(start + i)] ?? []) }
        }
        return result
    }
}

/// Result slots filled by parallel jobs (each job writes its own index under the mutex).
final class Slots<T>: @unchecked Sendable {
    var values: [T?]
    init(count: Int) { values = Array(repeating: nil, count: count) }
}

/// A pthread mutex for the few host-side places that collect results from parallel boots.
final class HostMutex: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    init() { pthread_mutex_init(mutex, nil) }
    deinit { pthread_mutex_destroy(mutex); mutex.deallocate() }
    func locked<T>(_ body: () -> T) -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return body()
    }
}
#endif
