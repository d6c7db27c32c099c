#if os(Linux)
import BinderHarness
import BinderUAPI
import Glibc

/// The guest side of the kernel oracle: runs inside the VM, replays scenario files one after
/// another, each on a fresh binderfs device (`BINDER_CTL_ADD`), and prints every step's
/// outcome as `@@S <file> <step> <hex TraceCodec>` lines on the console.
public enum GuestOracle {
    public static let binderfs = "/dev/binderfs"

    /// Creates a binderfs device (`BINDER_CTL_ADD` on binder-control); 0 or -errno.
    static func addDevice(_ name: String) -> Int32 {
        let fd = Glibc.open("\(binderfs)/binder-control", O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { return -errno }
        defer { Glibc.close(fd) }
        var dev = [UInt8](repeating: 0, count: StructLayout.binderfsDevice)
        for (i, b) in name.utf8.prefix(255).enumerated() { dev[i] = b }
        let r = dev.withUnsafeMutableBytes { rawIoctl(fd, UInt(BinderIoctl.ctlAdd.rawValue), UInt(bitPattern: $0.baseAddress!)) }
        return r == 0 ? 0 : -errno
    }

    static func emit(_ line: String) {
        var l = line; l += "\n"
        _ = Syscalls.writeFully(1, Array(l.utf8))
    }

    public static func run(directory: String, executable: String) -> Int32 {
        emit("@@KERNEL \(kernelRelease())")
        let files = CorpusFiles.scenarioFiles(directory)
        // A `debug-state` file next to the scenarios asks for binder_logs/state after every step.
        let debugState = access("\(directory)/../debug-state", F_OK) == 0
        // A dead scenario process must not kill the controller through its pipe.
        signal(SIGPIPE, SIG_IGN)
        warmUp()
        GuestWatchdog.start(files: files)
        defer { GuestWatchdog.stop() }
        for (i, file) in files.enumerated() {
            let name = "s\(i)"
            let r = addDevice(name)
            guard r == 0 else { emit("@@ERROR \(file) BINDER_CTL_ADD \(r)"); continue }
            let device = "\(binderfs)/\(name)"
            KernelBackend.configuration = KernelConfiguration(
                devicePath: device, childArguments: [],
                logsDirectory: "\(binderfs)/binder_logs")
            let base = file.split(separator: "/").last.map(String.init) ?? file
            guard let bytes = CorpusFiles.read(file) else { emit("@@ERROR \(base) unreadable"); continue }
            let scenario = WireFormat.decode(bytes)
            emit("@@BEGIN \(base) \(scenario.steps.count)")
            GuestWatchdog.enter(scenario: i, step: -1)
            let t0 = HostTools.now()
            let backend = KernelBackend(processCount: scenario.processCount)
            let t1 = HostTools.now()
            let runner = ScenarioRunner(backend: backend, processCount: scenario.processCount)
            for (k, step) in scenario.steps.enumerated() {
                GuestWatchdog.enter(scenario: i, step: k)
                let outcome = runner.run(step)
                // A scenario process died (or the watchdog killed a stuck step's processes): the
                // outcome is not the kernel's. The scenario stops here; the host sees it missing.
                if let failure = backend.failure {
                    emit("@@ERROR \(base) step \(k): \(failure)")
                    break
                }
                emit("@@S \(base) \(k) \(TraceCodec.hex(TraceCodec.encode(outcome)))")
                if debugState, let state = KernelBackend.readText("\(binderfs)/binder_logs/state") {
                    for line in state.split(separator: "\n") { emit("@@STATE \(k) \(line)") }
                }
            }
            let t2 = HostTools.now()
            GuestWatchdog.enter(scenario: i, step: scenario.steps.count)
            backend.shutdown()
            unlink(device)
            // Where the guest's time goes (ms): spawning the process children, the steps, shutdown.
            emit("@@T \(base) spawn=\(Int((t1 - t0) * 1000)) steps=\(Int((t2 - t1) * 1000)) shutdown=\(Int((HostTools.now() - t2) * 1000))")
            emit("@@END \(base)")

        }
        GuestWatchdog.enter(scenario: -1, step: 0)
        emit("@@DONE \(files.count)")
        return 0
    }

    /// Creates and releases one binder thread before the first scenario. The Rust driver numbers
    /// each new thread's initial extended-error id from a boot-wide counter (`InnerThread::new`,
    /// `next_err_id` in thread.rs) that starts at 0, which is also C's initial id; without this,
    /// only the boot's first scenario thread would report C's value, and a scenario's outcome
    /// would depend on its position in the boot.
    static func warmUp() {
        guard addDevice("warmup") == 0 else { emit("@@ERROR warmup BINDER_CTL_ADD"); return }
        let device = "\(binderfs)/warmup"
        defer { unlink(device) }
        let fd = Glibc.open(device, O_RDWR | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { emit("@@ERROR warmup open \(-errno)"); return }
        var ee = [UInt8](repeating: 0, count: StructLayout.extendedError)
        // BINDER_GET_EXTENDED_ERROR creates the calling thread in both drivers (binder_get_thread,
        // Process::get_current_thread).
        _ = ee.withUnsafeMutableBytes { rawIoctl(fd, UInt(BinderIoctl.getExtendedError.rawValue), UInt(bitPattern: $0.baseAddress!)) }
        Glibc.close(fd)
        // The proc's release is deferred work; let it finish before the first scenario counts procs.
        KernelBackend.waitForActiveProcs(0, logs: "\(binderfs)/binder_logs")
    }

    static func kernelRelease() -> String {
        var u = utsname()
        uname(&u)
        return withUnsafePointer(to: &u.release) { $0.withMemoryRebound(to: CChar.self, capacity: 65) { String(cString: $0) } }
    }
}
#endif
