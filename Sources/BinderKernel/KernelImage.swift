#if os(Linux)
import BinderHarness
import Glibc

/// A kernel to boot: a named profile built from a Debian source package with a config fragment
/// kept in the repository (`kernel/profiles/<name>.profile`), or a prebuilt bzImage.
public struct KernelProfile {
    public var name: String
    public var package: String
    public var tarball: String
    public var fragmentPath: String
    /// Debian suite whose chroot builds the kernel (`suite=sid`); nil builds on the host.
    public var suite: String? = nil
    /// Build with `make LLVM=1` (clang/lld; required for Rust).
    public var llvm: Bool = false
    /// Check `make rustavailable` before configuring (`rust=1`).
    public var rust: Bool = false

    /// Loads `kernel/profiles/<name>.profile` from the repository root.
    public static func load(_ name: String, repository: String) -> KernelProfile? {
        let dir = "\(repository)/kernel/profiles"
        guard let bytes = CorpusFiles.read("\(dir)/\(name).profile") else { return nil }
        var fields: [String: String] = [:]
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") where !line.hasPrefix("#") {
            let kv = line.split(separator: "=", maxSplits: 1)
            if kv.count == 2 { fields[String(kv[0])] = String(kv[1]) }
        }
        guard let package = fields["package"], let tarball = fields["tarball"], let fragment = fields["fragment"] else { return nil }
        return KernelProfile(name: name, package: package, tarball: tarball, fragmentPath: "\(dir)/\(fragment)",
                             suite: fields["suite"], llvm: fields["llvm"] == "1", rust: fields["rust"] == "1")
    }
}

public enum KernelImage {
    /// The cache directory outside git: `$BINDER_CHECK_CACHE` or `~/.cache/binder-check`.
    public static var cacheRoot: String {
        if let c = HostTools.environment("BINDER_CHECK_CACHE") { return c }
        return (HostTools.environment("HOME") ?? "/tmp") + "/.cache/binder-check"
    }

    /// Builds (or reuses) the bzImage of a profile; returns its path and the kernel release.
    public static func build(_ profile: KernelProfile, jobs: Int = 2, log: (String) -> Void) -> (bzImage: String, release: String)? {
        let dir = "\(cacheRoot)/kernel/\(profile.name)"
        let image = "\(dir)/bzImage"
        let releaseFile = "\(dir)/kernelrelease"
        let fragment = CorpusFiles.read(profile.fragmentPath).map { String(decoding: $0, as: UTF8.self) } ?? ""
        let stamp = "\(dir)/fragment.used"
        let cachedFragment = CorpusFiles.read(stamp).map { String(decoding: $0, as: UTF8.self) }
        if HostTools.exists(image), cachedFragment == fragment,
           let rel = CorpusFiles.read(releaseFile).map({ String(decoding: $0, as: UTF8.self).trimmed }) {
            log("kernel: reusing \(image) (\(rel))")
            return (image, rel)
        }
        CorpusFiles.makeDirectory(dir)
        let args = fragment.split(separator: "\n").filter { !$0.hasPrefix("#") }.joined(separator: " ")
        if let suite = profile.suite {
            guard suite == "sid" else { log("kernel: unsupported suite \(suite) (only sid)"); return nil }
            guard buildInChroot(profile, args: args, jobs: jobs, dir: dir, log: log) else { return nil }
            CorpusFiles.writeText(stamp, fragment)
            let rel = CorpusFiles.read(releaseFile).map { String(decoding: $0, as: UTF8.self).trimmed } ?? "?"
            return (image, rel)
        }
        let q = HostTools.quote
        let src = "\(dir)/src"
        let steps: [(String, String)] = [
            ("download \(profile.package)",
             "cd \(q(dir)) && (ls \(profile.package)_*.deb >/dev/null 2>&1 || (apt-get download \(profile.package) || (apt-get update -qq && apt-get download \(profile.package))))"),
            ("extract", "cd \(q(dir)) && rm -rf deb src && dpkg-deb -x \(profile.package)_*.deb deb && mkdir -p src && tar xf deb/usr/src/\(profile.tarball) -C src --strip-components=1 && rm -rf deb"),
            ("configure", "cd \(q(src)) && make ARCH=x86_64 tinyconfig >/dev/null && ./scripts/config \(args) && make ARCH=x86_64 olddefconfig >/dev/null"),
            ("build bzImage", "cd \(q(src)) && make ARCH=x86_64 -j\(jobs) bzImage >\(q(dir))/build.log 2>&1 || (tail -30 \(q(dir))/build.log; false)"),
            ("install", "cp \(q(src))/arch/x86/boot/bzImage \(q(image)) && make -s -C \(q(src)) kernelrelease > \(q(releaseFile))"),
        ]
        for (what, cmd) in steps {
            let t = HostTools.now()
            log("kernel: \(what)...")
            guard HostTools.sh(cmd) == 0 else { log("kernel: \(what) failed"); return nil }
            log("kernel: \(what) took \(((HostTools.now() - t) * 10).rounded() / 10) s")
        }
        CorpusFiles.writeText(stamp, fragment)
        let rel = CorpusFiles.read(releaseFile).map { String(decoding: $0, as: UTF8.self).trimmed } ?? "?"
        return (image, rel)
    }

    /// The sid path: source package downloaded with the chroot's own apt and extracted once per
    /// package at `/build/src/<package>` (shared by all profiles of that package), one out-of-tree
    /// build directory per profile at `/build/<profile>` (`make O=`), results copied to `dir`.
    static func buildInChroot(_ profile: KernelProfile, args: String, jobs: Int, dir: String, log: (String) -> Void) -> Bool {
        let chroot = SidChroot()
        return chroot.locked(log: log) { buildLocked(profile, chroot: chroot, args: args, jobs: jobs, dir: dir, log: log) }
    }

    static func buildLocked(_ profile: KernelProfile, chroot: SidChroot, args: String, jobs: Int, dir: String, log: (String) -> Void) -> Bool {
        guard chroot.ensure(log: log) else { return false }
        let q = HostTools.quote
        let src = "/build/src/\(profile.package)"
        let obj = "/build/\(profile.name)"
        let make = "make -C \(src) O=\(obj) ARCH=x86_64" + (profile.llvm ? " LLVM=1" : "")
        var steps: [(String, String)] = []
        if !HostTools.exists("\(chroot.root)\(src)/.extracted") {
            steps.append(("download \(profile.package) (sid)",
                          "mkdir -p /build/dl && cd /build/dl && (ls \(profile.package)_*.deb >/dev/null 2>&1"
                          + " || apt-get download \(profile.package) 2>/dev/null || (apt-get update -qq && apt-get download \(profile.package)))"))
            steps.append(("extract", "cd /build/dl && rm -rf deb \(src) && dpkg-deb -x \(profile.package)_*.deb deb && mkdir -p \(src)"
                          + " && tar xf deb/usr/src/\(profile.tarball) -C \(src) --strip-components=1 && rm -rf deb \(profile.package)_*.deb"
                          + " && touch \(src)/.extracted"))
        }
        if profile.rust {
            steps.append(("check rustavailable", "mkdir -p \(obj) && \(make) rustavailable >\(obj)/rustavailable.log 2>&1 || (cat \(obj)/rustavailable.log; false)"))
        }
        steps += [
            ("configure", "mkdir -p \(obj) && \(make) tinyconfig >/dev/null && \(src)/scripts/config --file \(obj)/.config \(args)"
             + " && \(make) olddefconfig >/dev/null"),
            ("build bzImage", "\(make) -j\(jobs) bzImage >\(obj)/build.log 2>&1 || (tail -30 \(obj)/build.log; false)"),
            ("kernelrelease", "\(make) -s kernelrelease > \(obj)/kernelrelease.txt"),
        ]
        for (what, cmd) in steps {
            let t = HostTools.now()
            log("kernel: \(what)...")
            guard chroot.run(cmd) == 0 else { log("kernel: \(what) failed"); return false }
            log("kernel: \(what) took \(((HostTools.now() - t) * 10).rounded() / 10) s")
            if what == "configure" { warnMissingOptions(args: args, config: "\(chroot.root)\(obj)/.config", log: log) }
        }
        let host = "\(chroot.root)\(obj)"
        return HostTools.sh("cp \(q(host))/arch/x86/boot/bzImage \(q(dir))/bzImage && cp \(q(host))/kernelrelease.txt \(q(dir))/kernelrelease"
                            + " && cp \(q(host))/.config \(q(dir))/config") == 0
    }

    /// Logs every `-e OPTION` of the fragment that olddefconfig dropped (an unmet dependency
    /// makes an option silently disappear, e.g. the C binder without NET in 7.2).
    static func warnMissingOptions(args: String, config: String, log: (String) -> Void) {
        guard let text = CorpusFiles.read(config).map({ String(decoding: $0, as: UTF8.self) }) else { return }
        let set = Set(text.split(separator: "\n").filter { $0.hasSuffix("=y") }.map { String($0.dropLast(2)) })
        let words = args.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init)
        var missing: [String] = []
        for (i, w) in words.enumerated() where w == "-e" && i + 1 < words.count {
            if !set.contains("CONFIG_" + words[i + 1]) { missing.append(words[i + 1]) }
        }
        if !missing.isEmpty { log("kernel: warning: not enabled after olddefconfig: \(missing.joined(separator: " "))") }
    }
}

extension String {
    var trimmed: String {
        var s = Substring(self)
        while let c = s.last, c == "\n" || c == " " { s = s.dropLast() }
        return String(s)
    }

}
#endif
