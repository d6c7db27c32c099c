#if os(Linux)
import BinderHarness
import Glibc

/// Boots a kernel under QEMU (TCG) with an initramfs holding the static harness binary,
/// busybox and a batch of scenarios, and collects the traces the guest prints.
public enum VirtualMachine {
    /// The guest's /init: mounts, a fresh binderfs with global stats, runs the oracle, reboots (QEMU exits
    /// because of `-no-reboot`).
    static let initScript = """
    #!/bin/busybox sh
    /bin/busybox mkdir -p /proc /sys /dev /tmp
    /bin/busybox mount -t proc proc /proc
    /bin/busybox mount -t sysfs sys /sys
    /bin/busybox mount -t devtmpfs dev /dev
    /bin/busybox mkdir -p /dev/binderfs
    /bin/busybox mount -t binder -o stats=global binder /dev/binderfs
    /bin/binder-check kernel guest-run /scenarios
    /bin/busybox sync
    /bin/busybox reboot -f
    """

    public struct BootResult {
        public var kernelRelease: String
        /// Per scenario file name: decoded outcomes, in step order.
        public var traces: [String: [StepOutcome]]
        public var errors: [String]
        public var bootSeconds: Double
        public var console: String
    }

    /// Packs an initramfs with `binary` as /bin/binder-check and `scenarios` (name, bytes).
    static func packInitramfs(binary: String, scenarios: [(String, [UInt8])], output: String, debugState: Bool = false) -> Bool {
        let stage = output + ".d"
        let q = HostTools.quote
        guard HostTools.sh("rm -rf \(q(stage)) && mkdir -p \(q(stage))/bin \(q(stage))/scenarios") == 0 else { return false }
        for (name, bytes) in scenarios { CorpusFiles.write("\(stage)/scenarios/\(name)", bytes) }
        CorpusFiles.writeText("\(stage)/init", initScript + "\n")
        if debugState { CorpusFiles.writeText("\(stage)/debug-state", "1\n") }
        let busybox = ["/bin/busybox", "/usr/bin/busybox"].first(where: HostTools.exists) ?? "/bin/busybox"
        let cmd = "cp \(q(binary)) \(q(stage))/bin/binder-check && cp \(busybox) \(q(stage))/bin/busybox && chmod +x \(q(stage))/init"
            + " && (cd \(q(stage)) && find . | cpio -o -H newc --quiet | gzip -1 > \(q(output)))"
        return HostTools.sh(cmd) == 0
    }

    /// Boots once and returns the traces of all scenarios.
    public static func boot(bzImage: String, binary: String, scenarios: [(String, [UInt8])], workDir: String,
                            timeoutSeconds: Int, debugState: Bool = false) -> BootResult? {
        CorpusFiles.makeDirectory(workDir)
        let initrd = "\(workDir)/initrd.gz"
        guard packInitramfs(binary: binary, scenarios: scenarios, output: initrd, debugState: debugState) else { return nil }
        let console = "\(workDir)/console.log"
        let q = HostTools.quote
        let t = HostTools.now()
        let cmd = "timeout \(timeoutSeconds) qemu-system-x86_64 -accel tcg -cpu max -smp 1 -m 1024 -nographic -no-reboot -nodefaults"
            + " -serial stdio -device isa-debug-exit,iobase=0xf4,iosize=0x04 -kernel \(q(bzImage)) -initrd \(q(initrd))"
            + " -append 'console=ttyS0 panic=-1 quiet loglevel=0' </dev/null >\(q(console)) 2>&1"
        _ = HostTools.sh(cmd)
        let seconds = HostTools.now() - t
        let text = CorpusFiles.read(console).map { String(decoding: $0, as: UTF8.self) } ?? ""
        var result = BootResult(kernelRelease: "?", traces: [:], errors: [], bootSeconds: seconds, console: text)
        var done = false
        // The scenario the guest was in and its last step printed, to say where it stopped.
        var current: String?
        var lastStep: String?
        // The serial console ends lines with "\r\n", a single Character in Swift.
        for line in text.split(whereSeparator: { $0 == "\n" || $0 == "\r\n" || $0 == "\r" }) {
            guard let start = line.range(of: "@@") else { continue }
            let parts = line[start.lowerBound...].split(separator: " ")
            switch parts.first {
            case "@@KERNEL": result.kernelRelease = parts.count > 1 ? String(parts[1]) : "?"
            case "@@BEGIN" where parts.count > 1: current = String(parts[1]); lastStep = nil
            case "@@END": current = nil
            case "@@S" where parts.count == 4:
                lastStep = String(parts[2])
                if let bytes = TraceCodec.unhex(parts[3]) {
                    result.traces[String(parts[1]), default: []].append(TraceCodec.decode(bytes))
                }
            case "@@ERROR": result.errors.append(String(line[start.lowerBound...]))
            case "@@DONE": done = true
            default: break
            }
        }
        if !done {
            let how = seconds >= Double(timeoutSeconds) - 1 ? "timed out after \(timeoutSeconds) s"
                : result.errors.contains(where: { $0.contains("(watchdog)") }) ? "was stopped by its watchdog"
                : "stopped early (crash?)"
            let at = current.map { " in \($0) after " + (lastStep.map { "step \($0)" } ?? "no step") } ?? ""
            result.errors.append("guest \(how)\(at); see \(console)")
        }
        return result
    }
}

extension Substring {
    func range(of s: String) -> Range<Substring.Index>? {
        let needle = Array(s.utf8)
        let hay = Array(utf8)
        guard needle.count <= hay.count else { return nil }
        for i in 0...(hay.count - needle.count) where Array(hay[i..<(i + needle.count)]) == needle {
            let lower = utf8.index(utf8.startIndex, offsetBy: i)
            let upper = utf8.index(lower, offsetBy: needle.count)
            return lower..<upper
        }
        return nil
    }
}
#endif
