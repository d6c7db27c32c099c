import BinderDriver
import BinderModel
import BinderUAPI

/// The backends the harness can build by name.
public enum BackendKind: String, CaseIterable, Sendable {
    case model
    case driver

    public func make(processCount: Int) -> BinderBackend {
        switch self {
        case .model: return BinderModel(processCount: processCount)
        case .driver: return BinderDriver(processCount: processCount)
        }
    }
}

public extension DifferentialRun {
    /// Model against driver, the default comparison.
    init(modelVersusDriver scenario: Scenario) {
        self.init(scenario, left: BackendKind.model.make(processCount: scenario.processCount),
                  right: BackendKind.driver.make(processCount: scenario.processCount))
    }
}
