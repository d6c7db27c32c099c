import ArgumentParser
import BinderHarness

/// `binder-check encode`: scenario text (as `explain` prints it, or a report's minimal
/// scenario) into a scenario file.
struct Encode: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a scenario given as text (the form explain prints and reports show) as a .bscn file.",
        discussion: """
            One step per line, `P<process>.T<thread> <action>`; step indices, `*` markers, outcome \
            lines and `#` comments are skipped. The `# binder scenario v1, N processes` header sets \
            the process count (else the highest process named, plus one).
            """)

    @Argument(help: "Text files ('-' for standard input).")
    var files: [String]

    @Option(name: .shortAndLong, help: "Output file (one input), or a directory: files named by content hash.")
    var output: String

    func run() throws {
        guard files.count == 1 || CorpusFiles.isDirectory(output) else { throw ValidationError("several inputs need an output directory") }
        for file in files {
            let bytes: [UInt8]
            if file == "-" {
                var text = ""
                while let line = readLine(strippingNewline: false) { text += line }
                bytes = Array(text.utf8)
            } else {
                guard let b = CorpusFiles.read(file) else { throw ValidationError("cannot read \(file)") }
                bytes = b
            }
            let scenario: Scenario
            do {
                scenario = try ScenarioTextParser.parse(String(decoding: bytes, as: UTF8.self))
            } catch {
                throw ValidationError("\(file): \(error)")
            }
            let encoded: [UInt8]
            do { encoded = try WireFormat.encode(scenario) } catch { throw ValidationError("\(file): \(error)") }
            let path = CorpusFiles.isDirectory(output) ? output + "/" + CorpusFiles.fileName(for: scenario) : output
            guard CorpusFiles.write(path, encoded) else { throw ValidationError("cannot write \(path)") }
            print("\(file): \(scenario.steps.count) steps, \(scenario.processCount) processes -> \(path)")
        }
    }
}
