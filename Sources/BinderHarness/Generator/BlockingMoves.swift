import BinderModel
import BinderUAPI

/// Moves that park threads and wake them: a looper blocking in its read (a thread-pool thread),
/// `poll` (a main thread on `IPCThreadState::setupPolling`), signals, `close` of a duplicate fd
/// (`binder_flush`) and process exit.
extension GenerationSession {
    func parkedThreads(_ p: ProcessIndex) -> [ThreadIndex] {
        (0..<procs[p].threadCount).filter { runner.isParked(p, $0) }
    }

    func idleThreads(_ p: ProcessIndex) -> [ThreadIndex] {
        (0..<procs[p].threadCount).filter { !runner.isParked(p, $0) }
    }

    func blockingMove() {
        let live = liveProcesses
        guard let p = rng.pickOptional(live) else { return }
        let parked = parkedThreads(p)
        switch rng.below(10) {
        case 0, 1, 2:
            // A pool thread: enters the looper (or registers after BR_SPAWN_LOOPER) and blocks.
            guard let t = rng.pickOptional(idleThreads(p)) else { return }
            let looper = threadView(p, t).map { $0.looper & 0x03 != 0 } ?? false
            let commands: [Command] = looper ? [] : [rng.percent(70) ? .enterLooper : .registerLooper]
            emit(p, t, .writeRead(WriteRead(commands: commands, readSize: readSize())))
        case 3, 4:
            guard let t = rng.pickOptional(idleThreads(p)) else { return }
            emit(p, t, .poll(blocking: rng.percent(65)))
        case 5, 6:
            guard let t = rng.pickOptional(parked) else { return }
            emit(p, t, .signal(restart: rng.percent(50)))
        case 7, 8:
            emit(p, rng.below(procs[p].threadCount), .flushDuplicate)
        default:
            // A process dies with threads parked (at most one exit per scenario by default).
            guard !parked.isEmpty, live.count >= 2, deaths < 3, rng.percent(50) else { return }
            deaths += 1
            emit(p, 0, .exit)
        }
    }
}
