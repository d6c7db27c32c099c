#if os(Linux)
import Glibc

/// One OS thread that runs jobs handed to it one at a time, so that each scenario thread's
/// ioctls come from its own kernel task (binder keys `binder_thread` by pid).
final class WorkerThread {
    private var mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private var cond = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var job: (() -> Int32)?
    private var result: Int32 = 0
    private var done = false
    private var thread = pthread_t()

    init() {
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(cond, nil)
        let context = Unmanaged.passRetained(self).toOpaque()
        pthread_create(&thread, nil, { raw in
            let worker = Unmanaged<WorkerThread>.fromOpaque(raw!).takeRetainedValue()
            worker.loop()
            return nil
        }, context)
    }

    private func loop() {
        while true {
            pthread_mutex_lock(mutex)
            while job == nil { pthread_cond_wait(cond, mutex) }
            let j = job!
            pthread_mutex_unlock(mutex)
            let r = j()
            pthread_mutex_lock(mutex)
            job = nil
            result = r
            done = true
            pthread_cond_broadcast(cond)
            pthread_mutex_unlock(mutex)
        }
    }

    /// Runs `body` on this thread and waits for it.
    func run(_ body: @escaping () -> Int32) -> Int32 {
        pthread_mutex_lock(mutex)
        done = false
        job = body
        pthread_cond_broadcast(cond)
        while !done { pthread_cond_wait(cond, mutex) }
        let r = result
        pthread_mutex_unlock(mutex)
        return r
    }
}
#endif
