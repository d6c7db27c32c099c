#if os(Linux)
import Glibc

extension KernelBackend {
    /// Time passes for real. A freeze's `wait_event_interruptible_timeout` times out on a timer
    /// tick; the extra 50 ms lets it fire and the thread return before the harness settles.
    public func sleep(milliseconds: UInt32) {
        usleep(useconds_t(milliseconds) * 1000 + 50_000)
    }
}
#endif
