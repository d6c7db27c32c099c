import BinderUAPI

/// What a set of scenarios reached on one backend: how often each step kind and BC command ran
/// (not skipped), each BR code came back, and each operation returned each errno. Used to check
/// the generator against real drivers: a class can hide behind a BR code or errno that no
/// scenario ever reaches.
public struct TraceReach: Equatable, Sendable {
    public var steps: [String: Int] = [:]
    public var returns: [String: Int] = [:]
    public var results: [String: Int] = [:]
    public var scenarios = 0

    public init() {}

    /// Adds one scenario's trace (outcomes in step order).
    public mutating func add(_ scenario: Scenario, _ outcomes: [StepOutcome]) {
        scenarios += 1
        for (step, outcome) in zip(scenario.steps, outcomes) where outcome.skipped == nil {
            let op = TraceReach.operation(step.action)
            steps[op, default: 0] += 1
            if case let .writeRead(wr) = step.action {
                // Only the commands the driver consumed.
                let bounds = wr.commandBoundaries
                let consumed = Int(outcome.writeConsumed ?? 0)
                for (k, c) in wr.commands.enumerated() where bounds[k + 1] <= consumed {
                    steps[ScenarioText.command(name: c), default: 0] += 1
                }
            }
            for r in outcome.returns { returns[r.codeName, default: 0] += 1 }
            results["\(op) \(Errno.describe(outcome.result ?? 0))", default: 0] += 1
        }
    }

    static func operation(_ action: Action) -> String {
        if case .writeRead = action { return "write-read" }
        return ScenarioText.actionName(action)
    }

    /// Every BR code of the UAPI, so that the ones never returned are listed too.
    public static var allReturnNames: [String] { BinderReturn.all.map(\.0) }
    /// Every BC command the scenario format can express.
    public static var allCommandNames: [String] {
        ["BC_TRANSACTION", "BC_TRANSACTION(oneway)", "BC_REPLY", "BC_FREE_BUFFER", "BC_INCREFS", "BC_ACQUIRE", "BC_RELEASE",
         "BC_DECREFS", "BC_INCREFS_DONE", "BC_ACQUIRE_DONE", "BC_REGISTER_LOOPER", "BC_ENTER_LOOPER", "BC_EXIT_LOOPER",
         "BC_REQUEST_DEATH_NOTIFICATION", "BC_CLEAR_DEATH_NOTIFICATION", "BC_DEAD_BINDER_DONE",
         "BC_REQUEST_FREEZE_NOTIFICATION", "BC_CLEAR_FREEZE_NOTIFICATION", "BC_FREEZE_NOTIFICATION_DONE"]
    }
}

extension DecodedReturn {
    /// The BR code's name, without payload.
    public var codeName: String {
        switch self {
        case let .plain(c), let .ptrCookie(c, _, _), let .cookie(c, _), let .transaction(c, _): return c.description
        case .frozenBinder: return "BR_FROZEN_BINDER"
        case .truncated: return "truncated"
        case .unknown: return "unknown"
        }
    }
}
