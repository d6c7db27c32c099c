#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Runs child processes with posix_spawn (no Foundation), optionally reading their combined
/// stdout/stderr line by line.
enum Subprocess {
    struct Result {
        /// The exit status, or 128 + signal number when the child was killed by a signal.
        var status: Int32
        var signal: Int32?
        var seconds: Double
    }

    /// The current environment with `overrides` applied (a nil value removes the variable).
    static func environment(_ overrides: [String: String?]) -> [String] {
        var entries: [String] = []
        var seen = Set<String>()
        var p = environ
        while let e = p.pointee {
            let s = String(cString: e)
            let key = String(s.prefix { $0 != "=" })
            if let o = overrides[key] {
                seen.insert(key)
                if let v = o { entries.append(key + "=" + v) }
            } else {
                entries.append(s)
            }
            p += 1
        }
        for (k, v) in overrides.sorted(by: { $0.key < $1.key }) where !seen.contains(k) {
            if let v { entries.append(k + "=" + v) }
        }
        return entries
    }

    /// Runs `arguments` (looked up on PATH). With `onLine`, the child's stdout and stderr go
    /// through a pipe and each line is passed to `onLine`; otherwise they are inherited.
    /// SIGINT is ignored in this process while the child runs, so Ctrl-C stops only the child
    /// (libFuzzer then prints its final stats).
    @discardableResult
    static func run(_ arguments: [String], environment overrides: [String: String?] = [:],
                    onLine: ((String) -> Void)? = nil) -> Result {
        let start = monotonicSeconds()
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var defaults = sigset_t()
        sigemptyset(&defaults)
        sigaddset(&defaults, SIGINT)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF))

        var fds: [Int32] = [-1, -1]
        if onLine != nil {
            guard pipe(&fds) == 0 else { return Result(status: 127, signal: nil, seconds: 0) }
            posix_spawn_file_actions_adddup2(&actions, fds[1], 1)
            posix_spawn_file_actions_adddup2(&actions, fds[1], 2)
            posix_spawn_file_actions_addclose(&actions, fds[0])
            posix_spawn_file_actions_addclose(&actions, fds[1])
        }
        let env = environment(overrides)
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        var envp: [UnsafeMutablePointer<CChar>?] = env.map { strdup($0) } + [nil]
        defer {
            for a in argv { free(a) }
            for e in envp { free(e) }
        }
        fflush(stdout)
        fflush(stderr)
        let previous = signal(SIGINT, SIG_IGN)
        defer { signal(SIGINT, previous) }
        var pid: pid_t = 0
        let rc = posix_spawnp(&pid, arguments[0], &actions, &attributes, &argv, &envp)
        if onLine != nil { close(fds[1]) }
        guard rc == 0 else {
            if onLine != nil { close(fds[0]) }
            printError("binder-check: cannot run \(arguments[0]): \(String(cString: strerror(rc)))")
            return Result(status: 127, signal: nil, seconds: 0)
        }
        if let onLine {
            var pending: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let n = read(fds[0], &buffer, buffer.count)
                if n < 0, errno == EINTR { continue }
                if n <= 0 { break }
                pending += buffer[0..<n]
                while let nl = pending.firstIndex(of: 10) {
                    onLine(String(decoding: pending[..<nl], as: UTF8.self))
                    pending.removeSubrange(...nl)
                }
            }
            if !pending.isEmpty { onLine(String(decoding: pending, as: UTF8.self)) }
            close(fds[0])
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0, errno == EINTR {}
        let seconds = monotonicSeconds() - start
        let sig = status & 0x7F
        if sig == 0 { return Result(status: (status >> 8) & 0xFF, signal: nil, seconds: seconds) }
        return Result(status: 128 + sig, signal: sig, seconds: seconds)
    }
}
