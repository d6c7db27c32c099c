#if os(Linux)
import BinderHarness
import Glibc

/// A Debian sid chroot, kept outside git at `$BINDER_CHECK_CACHE/chroot/sid`, holding the toolchain
/// for kernels newer than the host can build (Rust binder needs a recent rustc, bindgen and LLVM).
///
/// Created once with `debootstrap --variant=minbase`; a stamp file beside it (`sid.stamp`, holding
/// the installed package list) marks it complete, so a half-made chroot is removed and redone.
/// Nothing is installed on the host except `debootstrap` itself; the host's apt setup is untouched
/// (the chroot has its own `/etc/apt/sources.list`, written by debootstrap).
public struct SidChroot {
    public static let mirror = "http://deb.debian.org/debian"
    /// The toolchain: kernel build essentials plus Rust-for-Linux (rustc, rust-src, bindgen, LLVM).
    public static let packages = [
        "make", "gcc", "libc6-dev", "flex", "bison", "bc", "libelf-dev", "libssl-dev", "python3", "perl",
        "cpio", "xz-utils", "kmod",
        "rustc", "rust-src", "bindgen", "clang", "lld", "llvm", "libclang-dev",
    ]

    /// The chroot's root directory.
    public let root: String
    var stamp: String { root + ".stamp" }

    public init(cacheRoot: String = KernelImage.cacheRoot) {
        root = "\(cacheRoot)/chroot/sid"
    }

    /// Creates the chroot if it is missing or incomplete, and installs any missing toolchain package.
    public func ensure(log: (String) -> Void) -> Bool {
        let q = HostTools.quote
        let wanted = SidChroot.packages.joined(separator: " ")
        let stamped = CorpusFiles.read(stamp).map { String(decoding: $0, as: UTF8.self).trimmed }
        if stamped == wanted, HostTools.exists("\(root)/usr/bin/rustc") { return true }
        if stamped == nil {
            // Incomplete (or never made): start over. Never delete through a live mount.
            guard unmountAll(log: log) else { return false }
            let ok = timed("create sid chroot (debootstrap)", log: log) {
                if HostTools.exists(root) {
                    guard HostTools.sh("rm -rf --one-file-system \(q(root))") == 0 else { return false }
                }
                if HostTools.sh("command -v debootstrap >/dev/null") != 0 {
                    log("kernel: installing debootstrap on the host (apt-get)")
                    guard HostTools.sh("apt-get install -y -qq debootstrap >/dev/null || (apt-get update -qq && apt-get install -y -qq debootstrap >/dev/null)") == 0 else { return false }
                }
                let logFile = "\(root).debootstrap.log"
                CorpusFiles.makeDirectory(root)
                return HostTools.sh("debootstrap --variant=minbase sid \(q(root)) \(SidChroot.mirror) >\(q(logFile)) 2>&1"
                                    + " || (tail -20 \(q(logFile)); false)") == 0
            }
            guard ok else { return false }
        }
        // Install the toolchain (also when the package list grew since the stamp was written).
        let ok = timed("install sid toolchain", log: log) {
            HostTools.sh("cp /etc/resolv.conf \(q(root))/etc/resolv.conf 2>/dev/null; true")
            // The mirror may serve a frozen sid whose Release file is past its Valid-Until date.
            CorpusFiles.writeText("\(root)/etc/apt/apt.conf.d/99binder-check",
                                  "Acquire::Check-Valid-Until \"false\";\nAPT::Install-Recommends \"false\";\n")
            return run("(apt-get update -qq && apt-get install -y -qq \(wanted)) >/var/log/binder-check-apt.log 2>&1"
                       + " || (tail -20 /var/log/binder-check-apt.log; false)") == 0
        }
        guard ok else { return false }
        CorpusFiles.writeText(stamp, wanted + "\n")
        return true
    }

    /// Runs `/bin/sh -c command` inside the chroot with a clean environment and /proc mounted
    /// (rustc finds its sysroot through /proc/self/exe); /proc is unmounted afterwards unless it
    /// was already mounted. Returns the exit status.
    @discardableResult
    public func run(_ command: String) -> Int32 {
        let q = HostTools.quote
        let env = "env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8"
            + " DEBIAN_FRONTEND=noninteractive"
        let proc = "\(root)/proc"
        let script = """
        mounted=0
        if ! mountpoint -q \(q(proc)); then mount -t proc proc \(q(proc)) && mounted=1; fi
        \(env) chroot \(q(root)) /bin/sh -c \(q(command))
        rc=$?
        if [ $mounted = 1 ]; then umount \(q(proc)); fi
        exit $rc
        """
        return HostTools.sh(script)
    }

    /// Runs `body` holding an exclusive lock on the chroot (`sid.lock` beside it), so two builds
    /// never race on creating it or on mounting and unmounting its /proc.
    public func locked<T>(log: (String) -> Void, _ body: () -> T) -> T {
        CorpusFiles.makeDirectory(root)
        let fd = open(root + ".lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        if fd >= 0 {
            if flock(fd, LOCK_EX | LOCK_NB) != 0 {
                log("kernel: waiting for another build using \(root)...")
                _ = flock(fd, LOCK_EX)
            }
        }
        defer { if fd >= 0 { close(fd) } }
        return body()
    }

    /// Unmounts everything mounted below the chroot (left over from an interrupted run).
    func unmountAll(log: (String) -> Void) -> Bool {
        let q = HostTools.quote
        let cmd = "for m in $(awk -v r=\(q(root + "/")) 'index($2, r) == 1 { print $2 }' /proc/mounts | sort -r); do umount \"$m\" || exit 1; done"
        if HostTools.sh(cmd) != 0 { log("kernel: cannot unmount leftovers under \(root)"); return false }
        return true
    }

    func timed(_ what: String, log: (String) -> Void, _ body: () -> Bool) -> Bool {
        let t = HostTools.now()
        log("kernel: \(what)...")
        guard body() else { log("kernel: \(what) failed"); return false }
        log("kernel: \(what) took \(((HostTools.now() - t) * 10).rounded() / 10) s")
        return true
    }
}
#endif
