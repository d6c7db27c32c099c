import BinderUAPI
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reading and writing scenario files and corpus directories.
public enum CorpusFiles {
    /// Reads a whole file, or nil.
    public static func read(_ path: String) -> [UInt8]? {
        guard let f = fopen(path, "rb") else { return nil }
        defer { fclose(f) }
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = fread(&chunk, 1, chunk.count, f)
            if n <= 0 { break }
            result += chunk[0..<n]
        }
        return result
    }

    /// Writes a whole file; returns false on failure.
    @discardableResult
    public static func write(_ path: String, _ bytes: [UInt8]) -> Bool {
        guard let f = fopen(path, "wb") else { return false }
        defer { fclose(f) }
        return fwrite(bytes, 1, bytes.count, f) == bytes.count
    }

    @discardableResult
    public static func writeText(_ path: String, _ text: String) -> Bool { write(path, Array(text.utf8)) }

    public static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    /// `mkdir -p`.
    public static func makeDirectory(_ path: String) {
        var prefix = path.hasPrefix("/") ? "" : "."
        for part in path.split(separator: "/") {
            prefix += "/" + part
            mkdir(prefix, 0o755)
        }
    }

    /// Regular files under `path` (recursively), sorted by path; `path` itself if it is a file.
    /// Files ending in `.trace` or `.txt` or `.md`, and hidden files, are skipped.
    public static func scenarioFiles(_ path: String) -> [String] {
        guard isDirectory(path) else { return [path] }
        var result: [String] = []
        guard let dir = opendir(path) else { return [] }
        defer { closedir(dir) }
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name.hasPrefix(".") { continue }
            let full = path.hasSuffix("/") ? path + name : path + "/" + name
            if isDirectory(full) { result += scenarioFiles(full); continue }
            if name.hasSuffix(".trace") || name.hasSuffix(".txt") || name.hasSuffix(".md") { continue }
            result.append(full)
        }
        return result.sorted()
    }

    /// Every readable scenario file under `paths`, decoded (`WireFormat` decoding is total).
    public static func loadScenarios(_ paths: [String]) -> [(name: String, scenario: Scenario)] {
        paths.flatMap(scenarioFiles).compactMap { f in read(f).map { (f, WireFormat.decode($0)) } }
    }

    /// A stable file name for a scenario: FNV-1a of its encoding.
    public static func fileName(for scenario: Scenario) -> String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in WireFormat.bytes(of: scenario, header: true) { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        let s = String(h, radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s + ".bscn"
    }
}
