import CShims
import Glibc
import LinuxIO

/// One blocking request for a pool thread.
///
/// `@unchecked Sendable`: the buffer pointer is handed to exactly one worker; the submitter does not touch the
/// buffer until the completion runs on its loop (the ownership rule of ``IOEngine/submit(_:on:completion:)``).
struct PoolJob: @unchecked Sendable {
    enum Kind { case read, write, flush, discard }
    var kind: Kind
    var fd: Int32
    var buffer: UnsafeMutableRawPointer?
    var offset: Int64
    var length: Int
    var fua: Bool
    /// Keeps the fds open while the job runs.
    var device: BackingDevice
    var done: @Sendable (Result<Int, SystemError>) -> Void
}

/// A small pool of pthreads that run blocking pread/pwrite/fdatasync from a locked FIFO (tgt `bs_rdwr`
/// style). Started lazily by ``IOEngine``; results go back with `EventLoop.execute`.
final class WorkerPool: @unchecked Sendable {
    // pthread mutex/cond on the heap: they must not move. Every field below is guarded by `mutex`.
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let cond: UnsafeMutablePointer<pthread_cond_t>
    private var queue = FIFO<PoolJob>()
    private var stopping = false
    private var threads: [pthread_t] = []

    init(threads count: Int, name: String) throws(SystemError) {
        mutex = .allocate(capacity: 1)
        cond = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(cond, nil)
        for i in 0..<max(1, count) {
            let body = WorkerBody(pool: self, name: "\(name)-io\(i)")
            let arg = Unmanaged.passRetained(body).toOpaque()
            var tid = pthread_t()
            let rc = pthread_create(&tid, nil, { raw in
                guard let raw else { return nil }
                let body = Unmanaged<WorkerBody>.fromOpaque(raw).takeRetainedValue()
                cshims_set_thread_name(body.name)
                // Blocking I/O may run on any CPU, not only on the (pinned) loop's.
                _ = cshims_thread_use_process_cpus()
                body.pool.workerLoop()
                return nil
            }, arg)
            if rc != 0 {
                Unmanaged<WorkerBody>.fromOpaque(arg).release()
                if threads.isEmpty {
                    // Nothing started: report it.
                    pthread_cond_destroy(cond); pthread_mutex_destroy(mutex)
                    cond.deallocate(); mutex.deallocate()
                    throw SystemError(errno: rc, call: "pthread_create")
                }
                break  // run with fewer workers
            }
            threads.append(tid)
        }
    }

    deinit {
        pthread_cond_destroy(cond)
        pthread_mutex_destroy(mutex)
        cond.deallocate()
        mutex.deallocate()
    }

    var threadCount: Int { threads.count }

    func enqueue(_ job: PoolJob) {
        pthread_mutex_lock(mutex)
        queue.append(job)
        pthread_mutex_unlock(mutex)
        pthread_cond_signal(cond)
    }

    /// Stops accepting work, lets the workers finish the queue, and joins them. Not on a worker thread.
    func shutdown() {
        pthread_mutex_lock(mutex)
        stopping = true
        let toJoin = threads
        threads = []
        pthread_mutex_unlock(mutex)
        pthread_cond_broadcast(cond)
        for t in toJoin { pthread_join(t, nil) }
    }

    private func workerLoop() {
        while true {
            pthread_mutex_lock(mutex)
            while queue.isEmpty && !stopping { pthread_cond_wait(cond, mutex) }
            let job = queue.popFirst()
            pthread_mutex_unlock(mutex)
            guard let job else { return }  // stopping and drained
            job.done(Self.perform(job))
        }
    }

    /// Runs one job to completion: retries EINTR and partial transfers; a transfer that stops short (end of
    /// file) is EIO, never a silent short success.
    static func perform(_ job: PoolJob) -> Result<Int, SystemError> {
        switch job.kind {
        case .flush:
            return fdatasyncRetrying(job.fd)
        case .discard:
            return discard(job)
        case .read, .write:
            guard let buffer = job.buffer else { return .failure(SystemError(errno: EINVAL, call: "pread")) }
            var done = 0
            let useDsync = job.kind == .write && job.fua && !job.device.has(.noPwriteDsync)
            while done < job.length {
                let offset = job.offset + Int64(done)  // done <= length, and offset + length was checked at submit
                let n: Int
                if job.kind == .read {
                    n = cshims_pread2(job.fd, buffer + done, job.length - done, offset, 0)
                } else if useDsync {
                    n = cshims_pwrite2(job.fd, buffer + done, job.length - done, offset, CSHIMS_RW_DSYNC)
                } else {
                    n = cshims_pwrite2(job.fd, buffer + done, job.length - done, offset, 0)
                }
                if n < 0 {
                    let err = Glibc.errno
                    if err == EINTR || err == EAGAIN { continue }
                    if useDsync && (err == EOPNOTSUPP || err == EINVAL) && done == 0 {
                        job.device.learn(.noPwriteDsync)
                        return perform(job)  // again without RWF_DSYNC, then fdatasync
                    }
                    return .failure(SystemError(errno: err, call: job.kind == .read ? "pread" : "pwrite"))
                }
                if n == 0 {
                    // End of file before the whole range: a short transfer is an error (tgt would lose why).
                    return .failure(SystemError(errno: EIO, call: job.kind == .read ? "pread(short)" : "pwrite(short)"))
                }
                done += n
            }
            if job.kind == .write && job.fua && !useDsync {
                // SBC-3 FUA without RWF_DSYNC: make the data stable before reporting completion.
                if case .failure(let e) = fdatasyncRetrying(job.fd) { return .failure(e) }
            }
            return .success(done)
        }
    }

    /// SBC-3 §5.28 UNMAP / §5.41 WRITE SAME with UNMAP on an LBPRZ = 1 device: the range must read back as
    /// zeros. Punch a hole (files, and block devices since Linux 4.9); where the file system refuses
    /// (EOPNOTSUPP), write zeros so the LBPRZ promise still holds.
    static func discard(_ job: PoolJob) -> Result<Int, SystemError> {
        // A block device punches only whole logical blocks (EINVAL otherwise): for a LUN with smaller blocks,
        // zero the partial device blocks at either end and punch the aligned middle.
        let align = job.device.kind == .blockDevice ? Int64(job.device.directAlignment) : 1
        if align > 1, job.length > 0 {
            let start = job.offset, end = job.offset + Int64(job.length)  // validated: end ≤ device size
            let alignedStart = (start + align - 1) / align * align, alignedEnd = end / align * align
            if alignedStart < alignedEnd && (alignedStart != start || alignedEnd != end) {
                var part = job
                part.fua = false
                for (from, to, zeros) in [(start, alignedStart, true), (alignedStart, alignedEnd, false), (alignedEnd, end, true)]
                where to > from {
                    part.offset = from
                    part.length = Int(to - from)
                    if case .failure(let e) = zeros ? writeZeros(part) : discard(part) { return .failure(e) }
                }
                if job.fua, case .failure(let e) = fdatasyncRetrying(job.fd) { return .failure(e) }
                return .success(job.length)
            }
        }
        while true {
            let rc = cshims_fallocate(job.fd, CSHIMS_FALLOC_PUNCH_HOLE | CSHIMS_FALLOC_KEEP_SIZE, job.offset, Int64(job.length))
            if rc == 0 { break }
            let err = Glibc.errno
            if err == EINTR { continue }
            guard err == EOPNOTSUPP || err == ENOSYS || err == EINVAL else {
                return .failure(SystemError(errno: err, call: "fallocate(PUNCH_HOLE)"))
            }
            return writeZeros(job)
        }
        if job.fua, case .failure(let e) = fdatasyncRetrying(job.fd) { return .failure(e) }
        return .success(job.length)
    }

    /// Writes zeros over the job's range in bounded chunks (1 MiB).
    static func writeZeros(_ job: PoolJob) -> Result<Int, SystemError> {
        let chunk = min(job.length, 1 << 20)
        guard chunk > 0 else { return .success(0) }
        let zeros = UnsafeMutableRawPointer.allocate(byteCount: chunk, alignment: 4096)
        defer { zeros.deallocate() }
        zeros.initializeMemory(as: UInt8.self, repeating: 0, count: chunk)
        var done = 0
        while done < job.length {
            let n = min(chunk, job.length - done)
            var sub = job
            sub.kind = .write
            sub.buffer = zeros
            sub.offset = job.offset + Int64(done)
            sub.length = n
            sub.fua = false
            if case .failure(let e) = perform(sub) { return .failure(e) }
            done += n
        }
        if job.fua, case .failure(let e) = fdatasyncRetrying(job.fd) { return .failure(e) }
        return .success(job.length)
    }

    static func fdatasyncRetrying(_ fd: Int32) -> Result<Int, SystemError> {
        while true {
            if fdatasync(fd) == 0 { return .success(0) }
            let err = Glibc.errno
            if err == EINTR { continue }
            return .failure(SystemError(errno: err, call: "fdatasync"))
        }
    }
}

private final class WorkerBody {
    let pool: WorkerPool
    let name: String
    init(pool: WorkerPool, name: String) {
        self.pool = pool
        self.name = name
    }
}
