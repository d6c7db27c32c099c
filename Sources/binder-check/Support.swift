import ArgumentParser
import BinderHarness
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - Output

/// Prints to standard error.
func printError(_ text: String) {
    fputs(text + "\n", stderr)
}

/// Flushes standard output (so that progress shows before a long child process runs).
func flushOutput() { fflush(stdout) }

// MARK: - Time

/// Monotonic seconds (CLOCK_MONOTONIC). Used only by the CLI, never inside the model or the driver.
func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

func formatSeconds(_ s: Double) -> String {
    if s < 1 { return String(format1: s * 1000, digits: 0) + " ms" }
    if s < 120 { return String(format1: s, digits: 1) + " s" }
    return String(format1: s / 60, digits: 1) + " min"
}

extension String {
    /// A fixed-point rendering without Foundation.
    init(format1 value: Double, digits: Int) {
        self = fixedPoint(value, digits: digits)
    }

    func padded(_ width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }

    func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}

/// `value` with `digits` decimals.
func fixedPoint(_ value: Double, digits: Int) -> String {
    guard value.isFinite else { return "\(value)" }
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let rounded = (abs(value) * scale).rounded()
    let whole = UInt64(rounded / scale)
    let frac = UInt64(rounded - Double(whole) * scale)
    var s = (value < 0 && rounded != 0 ? "-" : "") + String(whole)
    if digits > 0 {
        let f = String(frac)
        s += "." + String(repeating: "0", count: max(0, digits - f.count)) + f
    }
    return s
}

/// Groups digits: 1234567 -> "1,234,567".
func grouped<T: BinaryInteger>(_ v: T) -> String {
    let s = String(v)
    var out = ""
    for (i, c) in s.reversed().enumerated() {
        if i > 0, i % 3 == 0, c != "-" { out.append(",") }
        out.append(c)
    }
    return String(out.reversed())
}

// MARK: - Files

enum Files {
    static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    static func isExecutable(_ path: String) -> Bool { access(path, X_OK) == 0 }

    static func currentDirectory() -> String {
        var buf = [CChar](repeating: 0, count: 4096)
        guard getcwd(&buf, buf.count) != nil else { return "." }
        return String(cString: buf)
    }

    /// Names of the entries of a directory (no `.`/`..`), sorted; empty if it does not exist.
    static func list(_ path: String) -> [String] {
        guard let dir = opendir(path) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name == "." || name == ".." { continue }
            names.append(name)
        }
        return names.sorted()
    }

    static func join(_ a: String, _ b: String) -> String {
        if b.hasPrefix("/") { return b }
        return a.hasSuffix("/") ? a + b : a + "/" + b
    }

    static func absolute(_ path: String) -> String { join(currentDirectory(), path) }

    static func size(_ path: String) -> Int {
        var st = stat()
        return stat(path, &st) == 0 ? Int(st.st_size) : 0
    }

    /// Removes a directory tree (used only for the tool's own scratch directories).
    static func removeTree(_ path: String) {
        if CorpusFiles.isDirectory(path) {
            for name in list(path) { removeTree(join(path, name)) }
            rmdir(path)
        } else {
            unlink(path)
        }
    }
}

// MARK: - Package root

/// Options shared by the commands that build or run the fuzz target.
struct PackageOptions: ParsableArguments {
    @Option(name: .customLong("package-path"), help: "The package root (default: the current directory).")
    var packagePath: String = "."

    /// Checks that the package root holds Package.swift and changes into it; returns its absolute path.
    func enterPackageRoot() throws -> String {
        guard Files.exists(Files.join(packagePath, "Package.swift")) else {
            throw ValidationError("no Package.swift in '\(packagePath)': run binder-check from the package root or pass --package-path")
        }
        guard chdir(packagePath) == 0 else { throw ValidationError("cannot enter \(packagePath)") }
        return Files.currentDirectory()
    }
}

/// Exits with a status, after flushing output.
func exitWith(_ code: Int32) -> Never {
    fflush(stdout)
    fflush(stderr)
    exit(code)
}

extension GeneratorProfile {
    /// `all`, or generator profile names separated by commas.
    static func parseList(_ text: String) throws -> [GeneratorProfile] {
        if text == "all" { return GeneratorProfile.allCases }
        return try text.split(separator: ",").map { p in
            guard let g = GeneratorProfile(rawValue: String(p)) else { throw ValidationError("unknown generator profile \(p)") }
            return g
        }
    }
}
