import BinderModel
import BinderUAPI

/// The `android` profile's start: processes set up as libbinder does.
extension GenerationSession {
    /// `ProcessState::init` (open without `O_NONBLOCK`, BINDER_VERSION, BINDER_SET_MAX_THREADS 15,
    /// mmap of 1 MiB - 8 KiB), process 0 as servicemanager (context manager, a looper that
    /// polls), and in every other process a main thread that either polls
    /// (`IPCThreadState::setupPolling`) or blocks in the pool (`joinThreadPool`).
    func libbinderSetup() {
        let pages = UInt32((1024 * 1024 - 8192) / 4096)
        for p in 0..<processCount {
            procs[p].pages = pages
            emit(p, 0, .openBlocking)
            emit(p, 0, .version)
            emit(p, 0, .setMaxThreads(15))
            emit(p, 0, .mmap(pages: pages, prot: MmapRules.protRead))
        }
        emit(0, 0, .setContextManager)
        emit(0, 0, .writeRead(WriteRead(commands: [.enterLooper])))
        emit(0, 0, .poll(blocking: true))
        for p in 1..<processCount {
            if rng.percent(50) {
                emit(p, 0, .writeRead(WriteRead(commands: [.enterLooper])))
                emit(p, 0, .poll(blocking: true))
            } else {
                emit(p, 0, .writeRead(WriteRead(commands: [.enterLooper], readSize: 256)))
            }
        }
        giveFiles()
    }
}
