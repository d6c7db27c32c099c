/// Deliberate bugs for mutation testing. The bugs themselves are compiled only with
/// `-DBINDER_MUTANTS` and selected by the environment variable `BINDER_MUTANT=<name>`.
public enum DriverMutants {
    public static let catalog: [(name: String, description: String)] = [
        ("acquire-upgrades-weak", "BC_ACQUIRE/BC_INCREFS on a weak-only ref succeeds (upgrades it)"),
        ("no-br-release", "node work never emits BR_RELEASE"),
        ("handle-starts-at-zero", "lowest free handle starts at 0 for every node"),
        ("handles-not-reused", "new handles are always above the highest used one"),
        ("alloc-lowest-address", "equal-size best fit picks the lowest address, not the tree's pick"),
        ("no-merge-prev", "freeing does not coalesce with the previous free block"),
        ("async-space-leak", "async space is not returned when an async buffer is freed"),
        ("async-limit-off-by-one", "async allocation fails when free async space equals the size"),
        ("reply-to-wrong-thread", "a reply goes to the caller's parent caller when there is one"),
        ("no-call-chain-routing", "nested sync calls are not routed to the waiting thread of the chain"),
        ("trailing-off-by-one", "the trailing data copy copies one byte too many"),
        ("offsets-counted-twice", "the offsets array is counted twice in copiedBytes"),
        ("no-dead-binder-on-release", "BR_DEAD_BINDER is not queued when the node owner is released"),
        ("clear-done-to-proc", "BR_CLEAR_DEATH_NOTIFICATION_DONE always goes to proc todo, not the looper thread"),
        ("complete-immediately", "a sync call's BR_TRANSACTION_COMPLETE is delivered immediately, not deferred"),
        ("write-loop-ignores-error", "the write loop keeps processing commands with a pending return error"),
        ("select-oldest-waiter", "proc work goes to the longest-parked thread, not the most recently parked"),
        ("spawn-ignores-waiters", "BR_SPAWN_LOOPER is asked for even while a thread is parked waiting for proc work"),
        ("flush-wakes-nobody", "a flush sets looper_need_return but does not wake threads parked in a read"),
        ("no-poll-wakeup", "proc work with no parked reader does not wake polling threads"),
        ("node-work-no-wakeup", "node work queued on the proc todo (BR_RELEASE/BR_DECREFS) wakes no parked thread"),
        ("reply-fds-always-accepted", "an FD object in a reply is accepted without the call's TF_ACCEPT_FDS"),
        ("fda-fds-stay-open", "BC_FREE_BUFFER does not close the fds of the buffer's FDA arrays"),
        ("fd-fixup-keeps-partial", "when the reader runs out of fds, the fds reserved so far stay installed"),
    ]
}

#if BINDER_MUTANTS
import Foundation

enum Mutant: String {
    case none
    case acquireUpgradesWeak = "acquire-upgrades-weak"
    case noBRRelease = "no-br-release"
    case handleStartsAtZero = "handle-starts-at-zero"
    case handlesNotReused = "handles-not-reused"
    case allocLowestAddress = "alloc-lowest-address"
    case noMergePrev = "no-merge-prev"
    case asyncSpaceLeak = "async-space-leak"
    case asyncLimitOffByOne = "async-limit-off-by-one"
    case replyToWrongThread = "reply-to-wrong-thread"
    case noCallChainRouting = "no-call-chain-routing"
    case trailingOffByOne = "trailing-off-by-one"
    case offsetsCountedTwice = "offsets-counted-twice"
    case noDeadBinderOnRelease = "no-dead-binder-on-release"
    case clearDoneToProc = "clear-done-to-proc"
    case completeImmediately = "complete-immediately"
    case writeLoopIgnoresError = "write-loop-ignores-error"
    case selectOldestWaiter = "select-oldest-waiter"
    case spawnIgnoresWaiters = "spawn-ignores-waiters"
    case flushWakesNobody = "flush-wakes-nobody"
    case noPollWakeup = "no-poll-wakeup"
    case nodeWorkNoWakeup = "node-work-no-wakeup"
    case replyFdsAlwaysAccepted = "reply-fds-always-accepted"
    case fdaFdsStayOpen = "fda-fds-stay-open"
    case fdFixupKeepsPartial = "fd-fixup-keeps-partial"

    static let active: Mutant = {
        guard let v = getenv("BINDER_MUTANT") else { return .none }
        return Mutant(rawValue: String(cString: v)) ?? .none
    }()
}
#endif
