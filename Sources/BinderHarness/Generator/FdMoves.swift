import BinderModel
import BinderUAPI

/// Moves that give processes files and pass them through Binder: files made (pipes, memfds),
/// FD and FDA objects in calls and replies to nodes that accept fds and to nodes that do not,
/// receivers that check, use and close what arrived, and receivers at their fd limit.
extension GenerationSession {
    func createdCount(_ p: ProcessIndex) -> Int { runner.processes[p].fds.created.count }
    func receivedFdCount(_ p: ProcessIndex) -> Int { runner.processes[p].fds.received.count }

    /// An fd of process `p` to pass or use: mostly one it created or received, sometimes a bad
    /// one (never open), rarely the binder fd itself.
    func fdOperand(_ p: ProcessIndex) -> FdRef {
        let created = createdCount(p), received = receivedFdCount(p)
        switch rng.weighted([created > 0 ? 70 : 0, received > 0 ? 20 : 0, 6, 2]) {
        case 0: return .created(index: UInt32(rng.below(created)))
        case 1: return .received(index: UInt32(rng.below(received)))
        case 2: return .literal(UInt32(FdRules.unusedFd))
        default: return .literal(UInt32(FdTableLayout.firstFree))
        }
    }

    func hasFiles(_ p: ProcessIndex) -> Bool { createdCount(p) + receivedFdCount(p) > 0 }

    /// FD objects for a payload of process `p` (none when it has no files, mostly).
    func fdObjects(_ p: ProcessIndex) -> [PayloadObject] {
        guard config.fileWeight > 0, hasFiles(p) ? rng.percent(45) : rng.percent(2) else { return [] }
        return (0..<rng.weighted([0, 70, 30])).map { _ in PayloadObject(gap: 0, .fd(fdOperand(p))) }
    }

    /// Appends a PTR parent with an FDA of `p`'s fds in it (a scatter-gather transaction).
    /// Mostly valid; sometimes the array does not fit its parent, or the parent sits at data
    /// offset 0 (which `binder_validate_fixup` refuses).
    func appendFdArray(_ p: ProcessIndex, to t: inout Transaction) {
        let count = rng.weighted([5, 30, 30, 35])
        let fds = (0..<count).map { _ in fdOperand(p) }
        let parentIndex = UInt32(t.payload.objects.count)
        let length = UInt32(max(8, count * 4 + rng.pick([0, 0, 4, 8])))
        let gap: UInt32 = t.payload.objects.isEmpty && rng.percent(90) ? 8 : 0
        t.payload.objects.append(PayloadObject(gap: gap, .ptr(length: length, flags: 0, parent: 0, parentOffset: 0)))
        var parentOffset: UInt32 = length - UInt32(count * 4) >= 4 && rng.percent(30) ? 4 : 0
        if rng.percent(8) { parentOffset = length }  // out of range
        t.payload.objects.append(PayloadObject(gap: 0, .fda(numFds: UInt32(count), parent: parentIndex, parentOffset: parentOffset, fds: fds)))
        t.buffersSize = (t.buffersSize ?? 0) + (UInt64(length) + 7) & ~7
    }

    /// Files some processes hold from the start (apps with open files to share).
    func giveFiles() {
        guard config.fileWeight > 0 else { return }
        for p in 0..<processCount where rng.percent(35) && !runner.hasExited(p) {
            emit(p, 0, .newFile(rng.percent(50) ? .memfd : .pipe))
        }
    }

    /// Gives a process a file, checks or closes one it holds, or changes its fd limit.
    func fileMove() {
        guard let p = rng.pickOptional(liveProcesses) else { return }
        let t = rng.below(procs[p].threadCount)
        switch rng.below(10) {
        case 0, 1, 2, 3:
            guard createdCount(p) < 6 else { return }
            emit(p, t, .newFile(rng.percent(50) ? .memfd : .pipe))
        case 4, 5:
            guard hasFiles(p) else { return }
            emit(p, t, .checkFd(fdOperand(p)))
        case 6, 7, 8:
            guard hasFiles(p) else { return }
            emit(p, t, .closeFd(receivedFdCount(p) > 0 && rng.percent(70) ? .received(index: UInt32(rng.below(receivedFdCount(p)))) : fdOperand(p)))
        default:
            // Room for 0 to 2 more fds, so that the next transaction with fds may not fit (in
            // full or in part: all or nothing).
            if rng.percent(75) {
                let free = model.freeFdNumbers(p, count: 3)
                emit(p, t, .fdLimit(UInt32(free[rng.weighted([30, 35, 35])])))
            } else {
                emit(p, t, .fdLimit(FdRules.maxLimit))
            }
        }
    }
}

/// The fd layout every scenario process starts with: fds 0 to 2 open, the binder fd next.
enum FdTableLayout {
    static let firstFree = 3
}
