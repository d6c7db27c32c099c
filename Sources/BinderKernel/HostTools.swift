#if os(Linux)
import Glibc

/// Small helpers for the host side of the kernel oracle: running commands and files.
public enum HostTools {
    /// Runs `/bin/sh -c command`; returns the exit status.
    @discardableResult
    public static func sh(_ command: String, quiet: Bool = false) -> Int32 {
        let full = quiet ? "(\(command)) >/dev/null 2>&1" : command
        var pid: pid_t = 0
        var argv: [UnsafeMutablePointer<CChar>?] = [strdup("/bin/sh"), strdup("-c"), strdup(full), nil]
        defer { for p in argv { free(p) } }
        guard posix_spawn(&pid, "/bin/sh", nil, nil, &argv, environ) == 0 else { return -1 }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }

    public static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    /// Seconds on the monotonic clock (host tooling only; never used by model or driver).
    public static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    public static func environment(_ name: String) -> String? {
        getenv(name).map { String(cString: $0) }
    }

    /// Quotes a path for the shell.
    public static func quote(_ s: String) -> String { "'" + s.replacingOccurrences("'", "'\\''") + "'" }
}

extension String {
    func replacingOccurrences(_ target: String, _ replacement: String) -> String {
        split(separator: Character(target), omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
#endif
