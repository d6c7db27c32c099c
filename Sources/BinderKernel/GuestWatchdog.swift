#if os(Linux)
import BinderHarness
import Glibc

/// The guest controller's watchdog, so that a stuck step is reported with its scenario and step
/// instead of hanging the VM until the host's timeout.
///
/// The guest kernel has no POSIX timers (no `alarm`, no `setitimer`), and the controller must
/// stay single-threaded (it forks the scenario processes without exec), so the watchdog is a
/// process forked at the start of `guest-run`. The controller publishes its progress in a
/// shared anonymous page: a heartbeat counter, the scenario and step it runs, and the pids of
/// the scenario's processes. When the heartbeat stalls for `stallSeconds`, the watchdog prints
/// an `@@ERROR` line naming the file and step and kills the scenario's processes: the
/// controller then sees its children die, reports the scenario as failed at that step and goes
/// on with the next one. If it still makes no progress for `stallSeconds` more, the watchdog
/// kills the controller (the guest's init then reboots; the host reports the guest as stopped).
enum GuestWatchdog {
    /// Seconds without progress before the watchdog acts.
    static let stallSeconds = 30.0

    // Slots of the shared page (Int64 each).
    private static let heartbeat = 0, scenarioSlot = 1, stepSlot = 2, doneSlot = 3, childSlots = 8
    private static let maxChildren = 64

    /// The shared page; nil outside the guest controller and its forks.
    private(set) static var page: UnsafeMutablePointer<Int64>?
    /// The scenario files, as the controller lists them (copied into the forks).
    private static var files: [String] = []
    private static var watchdogPid: pid_t = 0

    /// Maps the shared page and forks the watchdog. Call while the controller is single-threaded.
    static func start(files names: [String]) {
        let raw = Glibc.mmap(nil, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0)
        guard raw != MAP_FAILED, let raw else { return }
        files = names
        page = raw.bindMemory(to: Int64.self, capacity: 512)
        page!.initialize(repeating: 0, count: 512)
        page![scenarioSlot] = -1
        let controller = getpid()
        let pid = fork()
        if pid == 0 { watch(controller: controller) }
        watchdogPid = pid > 0 ? pid : 0
    }

    /// The controller runs `step` of scenario `scenario` (-1: starting its processes;
    /// the step count: shutting them down).
    static func enter(scenario: Int, step: Int) {
        guard let p = page else { return }
        p[scenarioSlot] = Int64(scenario)
        p[stepSlot] = Int64(step)
        p[heartbeat] &+= 1
    }

    /// Records the pid of scenario process `index` (0: none).
    static func setChild(_ index: Int, pid: pid_t) {
        guard let p = page, index >= 0, index < maxChildren else { return }
        p[childSlots + index] = Int64(pid)
        p[heartbeat] &+= 1
    }

    /// Ends the watchdog (the controller finished).
    static func stop() {
        guard let p = page else { return }
        p[doneSlot] = 1
        if watchdogPid > 0 {
            kill(watchdogPid, SIGKILL)
            var status: Int32 = 0
            waitpid(watchdogPid, &status, 0)
            watchdogPid = 0
        }
    }

    /// "<file> step <k>" of what the controller runs now, when known.
    static func currentStep() -> String? {
        guard let p = page else { return nil }
        let s = Int(p[scenarioSlot]), k = Int(p[stepSlot])
        guard s >= 0, s < files.count else { return nil }
        let name = files[s].split(separator: "/").last.map(String.init) ?? files[s]
        return "\(name) step \(k)"
    }

    private static func watch(controller: pid_t) -> Never {
        let p = page!
        var last = p[heartbeat]
        var since = HostTools.now()
        var killedChildren = false
        while true {
            sleep(1)
            if p[doneSlot] != 0 || getppid() != controller { _exit(0) }
            let h = p[heartbeat]
            if h != last {
                last = h; since = HostTools.now(); killedChildren = false
                continue
            }
            guard HostTools.now() - since >= stallSeconds else { continue }
            let at = currentStep() ?? "(between scenarios)"
            if !killedChildren {
                GuestOracle.emit("@@ERROR \(at): no progress for \(Int(stallSeconds)) s (watchdog); killing the scenario's processes")
                for i in 0..<maxChildren where p[childSlots + i] > 0 { kill(pid_t(p[childSlots + i]), SIGKILL) }
                killedChildren = true
                since = HostTools.now()
            } else {
                GuestOracle.emit("@@ERROR \(at): guest controller stuck (watchdog); stopping the guest")
                kill(controller, SIGKILL)
                _exit(1)
            }
        }
    }
}
#endif
