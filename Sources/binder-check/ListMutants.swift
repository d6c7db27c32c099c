import ArgumentParser
import BinderDriver

/// `binder-check list-mutants` (hidden): the driver's mutant catalog, one `name<TAB>description` a line.
struct ListMutants: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list-mutants",
        abstract: "List the driver's deliberate bugs (name<TAB>description).",
        shouldDisplay: false)

    static var compiledIn: Bool {
        #if BINDER_MUTANTS
        return true
        #else
        return false
        #endif
    }

    func run() throws {
        print("# mutants compiled in: \(ListMutants.compiledIn ? "yes" : "no")")
        for m in DriverMutants.catalog { print(m.name + "\t" + m.description) }
    }
}
