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
        return KernelProfile(name: name, package: package, tarball: tarball, fragmentPath: "\(dir)/\(fragment)")
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
        let q = HostTools.quote
        let args = fragment.split(separator: "\n").filter { !$0.hasPrefix("#") }.joined(separator: " ")
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
}

extension String {
    var trimmed: String {
        var s = Substring(self)
        while let c = s.last, c == "\n" || c == " " { s = s.dropLast() }
        return String(s)
    }

}
#endif
