import CShims
import Glibc
import LinuxIO

/// Runs backing-store requests for one ``EventLoop`` and calls completions on that loop's thread.
///
/// Paths, chosen per request:
/// - **null** device: reads zero-fill the buffer (never stale memory), writes are discarded, flush is a no-op.
/// - **direct** device (`O_DIRECT`, blockio): libaio with one `io_context` per engine, IOCB_FLAG_RESFD → an
///   eventfd in the loop, one `io_submit` per loop iteration (tgt `bs_aio`). Requests that are not aligned to
///   the device go to the worker pool on the buffered fd.
/// - **buffered** device (fileio): `preadv2`/`pwritev2` with `RWF_NOWAIT` inline on the loop thread (page-cache
///   hits finish at once); anything that would block goes to a small worker pool.
///
/// Completions always run on the loop thread and never synchronously inside ``submit(_:on:completion:)``,
/// so callers need no re-entrancy care. Loop-confined; `@unchecked Sendable` only so workers can post back to
/// it through `EventLoop.execute`, and every entry point checks the loop thread.
public final class IOEngine: @unchecked Sendable {
    /// Counters, for tests and metrics.
    public struct Statistics: Sendable, Equatable {
        /// Requests accepted by `submit`.
        public var submitted = 0
        /// Requests completed (successfully or not).
        public var completed = 0
        /// Requests finished inline with RWF_NOWAIT (page-cache hits).
        public var inlineCompleted = 0
        /// Requests (or remainders) handed to the worker pool.
        public var poolSubmitted = 0
        /// iocbs accepted by the kernel.
        public var aioSubmitted = 0
        /// `io_submit` calls made.
        public var ioSubmitCalls = 0
        /// `io_submit` calls that took only part of the batch.
        public var partialSubmits = 0
        /// `io_submit` calls that returned EAGAIN.
        public var eagainSubmits = 0
        /// Highest number of iocbs in flight at once.
        public var maxAIOInFlight = 0
    }

    /// The loop whose thread runs the completions.
    public let loop: EventLoop
    /// The in-flight cap for AIO.
    public let maxInFlight: Int
    /// Why the libaio path is off (io_setup failed); such requests use the worker pool. Nil when available.
    public private(set) var aioUnavailableReason: String?
    /// Counters.
    public internal(set) var statistics = Statistics()

    private let workerThreads: Int
    private var pool: WorkerPool?
    var aio: AIOQueue?
    private var ready: [(completion: (Result<Int, SystemError>) -> Void, result: Result<Int, SystemError>)] = []
    private var readyScheduled = false
    private var closed = false

    /// Creates the engine for `loop` (call on the loop thread, or before it runs).
    /// - Parameters:
    ///   - workerThreads: threads for the blocking path (started on first use).
    ///   - maxInFlight: the most libaio requests in flight; more wait in a queue.
    /// - Throws: `SystemError` from `eventfd` or the loop registration. A failing `io_setup` does not throw; it
    ///   sets ``aioUnavailableReason`` and direct I/O goes through the worker pool.
    public init(loop: EventLoop, workerThreads: Int = 4, maxInFlight: Int = 256) throws(SystemError) {
        loop.preconditionInLoopThread()
        self.loop = loop
        self.workerThreads = max(1, workerThreads)
        self.maxInFlight = max(1, maxInFlight)
        do throws(SystemError) {
            aio = try AIOQueue(engine: self, loop: loop, maxInFlight: self.maxInFlight)
        } catch where error.call == "io_setup" {
            aioUnavailableReason = "\(error)"
        }
    }

    deinit {
        pool?.shutdown()
        aio?.close()
    }

    /// Shuts the engine down: joins the worker threads (their queued jobs run first) and destroys the AIO
    /// context. Requests still waiting for `io_submit` complete with ECANCELED. Loop thread; call when idle.
    public func close() {
        loop.preconditionInLoopThread()
        guard !closed else { return }
        closed = true
        pool?.shutdown()
        pool = nil
        aio?.close()
        aio = nil
    }

    /// Starts `request` on `device`; `completion` later runs on the loop thread with the byte count
    /// (0 for flush) or the error. Loop thread only.
    ///
    /// Errors: EINVAL for a negative length, a missing buffer or a range outside the device; EROFS for a write
    /// to a read-only device; a negative `res`/errno from the kernel as is; a short transfer as EIO.
    /// The buffer must stay valid and untouched until the completion runs.
    public func submit(_ request: IORequest, on device: BackingDevice,
                       completion: @escaping (Result<Int, SystemError>) -> Void) {
        loop.preconditionInLoopThread()
        var request = request
        if request.op == .flush {
            // Offset, length and buffer mean nothing for a flush; clear them so no path converts them.
            request = .flush
        }
        statistics.submitted += 1
        if closed {
            return finishLater(completion, .failure(SystemError(errno: ECANCELED, call: "submit")))
        }
        if request.op != .flush {
            if let error = Self.validate(request, device) { return finishLater(completion, .failure(error)) }
            if request.length == 0 { return finishLater(completion, .success(0)) }
        }
        // Test-only fault injection (FaultInjection.swift): one relaxed atomic load when off.
        var completion = completion
        if FaultInjection.isArmed {
            guard let next = FaultInjection.intercept(request, on: device, engine: self, completion: completion) else { return }
            completion = next
        }
        switch device.kind {
        case .null:
            if request.op == .discard {
                return finishLater(completion, .success(request.length))
            }
            if request.op == .read, let buffer = request.buffer {
                // Never hand out stale memory: a null LUN reads as zeros.
                buffer.initializeMemory(as: UInt8.self, repeating: 0, count: request.length)
            }
            finishLater(completion, .success(request.op == .flush ? 0 : request.length))
        case .file, .blockDevice:
            if request.op == .discard {
                // fallocate may block on metadata: always a worker.
                return toPool(request, device, fd: device.bufferedFD, completion)
            }
            if device.isDirect {
                submitDirect(request, device, completion)
            } else {
                submitBuffered(request, device, completion)
            }
        }
    }

    /// Range and argument checks (no unchecked arithmetic on caller-provided numbers).
    static func validate(_ request: IORequest, _ device: BackingDevice) -> SystemError? {
        let call: String
        switch request.op {
        case .read: call = "submit(read)"
        case .discard: call = "submit(discard)"
        default: call = "submit(write)"
        }
        guard request.length >= 0 else { return SystemError(errno: EINVAL, call: call) }
        if (request.op == .write || request.op == .discard) && device.readOnly { return SystemError(errno: EROFS, call: call) }
        // A discard carries no data; every other transfer needs its buffer.
        guard request.length == 0 || request.op == .discard || request.buffer != nil else {
            return SystemError(errno: EINVAL, call: call)
        }
        let (end, overflow) = request.offset.addingReportingOverflow(UInt64(request.length))
        guard !overflow, end <= device.sizeInBytes, end <= UInt64(Int64.max) else {
            return SystemError(errno: EINVAL, call: call)
        }
        return nil
    }

    // MARK: - Direct (libaio)

    private func submitDirect(_ request: IORequest, _ device: BackingDevice,
                              _ completion: @escaping (Result<Int, SystemError>) -> Void) {
        let align = device.directAlignment
        let aligned = request.op == .flush
            || (request.offset % UInt64(align) == 0 && request.length % align == 0
                && Int(bitPattern: request.buffer) % align == 0)
        guard aligned else {
            // O_DIRECT needs block alignment of offset, length and memory: use the buffered fd.
            return toPool(request, device, fd: device.bufferedFD, completion)
        }
        let aioCanDoIt: Bool
        switch request.op {
        case .flush: aioCanDoIt = !device.has(.noAIOFdsync)
        case .write: aioCanDoIt = !request.fua || !device.has(.noAIODsync)
        case .read: aioCanDoIt = true
        case .discard: aioCanDoIt = false
        }
        if let aio, aioCanDoIt {
            aio.enqueue(request, device, completion)
        } else {
            toPool(request, device, fd: device.fd, completion)
        }
    }

    /// Called by the AIO queue when the kernel refused a request kind for this device at io_submit.
    func aioRefused(_ request: IORequest, _ device: BackingDevice, errno err: Int32,
                    _ completion: @escaping (Result<Int, SystemError>) -> Void) {
        let unsupported = err == EINVAL || err == EOPNOTSUPP
        if unsupported && request.op == .flush {
            device.learn(.noAIOFdsync)  // no IOCB_CMD_FDSYNC for this fd: fdatasync in the pool
            return toPool(request, device, fd: device.fd, completion)
        }
        if unsupported && request.op == .write && request.fua {
            device.learn(.noAIODsync)  // no aio_rw_flags RWF_DSYNC: pwritev2(RWF_DSYNC)/fdatasync in the pool
            return toPool(request, device, fd: device.fd, completion)
        }
        finish(completion, .failure(SystemError(errno: err, call: Self.aioCall(request.op))))
    }

    static func aioCall(_ op: IOOperation) -> String {
        switch op {
        case .read: return "io_submit(pread)"
        case .write: return "io_submit(pwrite)"
        case .flush: return "io_submit(fdsync)"
        case .discard: return "fallocate"
        }
    }

    // MARK: - Buffered

    private func submitBuffered(_ request: IORequest, _ device: BackingDevice,
                                _ completion: @escaping (Result<Int, SystemError>) -> Void) {
        let fd = device.bufferedFD
        let tryInline: Bool
        switch request.op {
        case .flush, .discard: tryInline = false
        case .read: tryInline = !device.has(.noNowaitRead)
        case .write: tryInline = !request.fua && !device.has(.noNowaitWrite)
        }
        guard tryInline, let buffer = request.buffer else {
            return toPool(request, device, fd: fd, completion)
        }
        var done = 0
        while done < request.length {
            // offset + length was range-checked in validate(), so this cannot overflow.
            let offset = Int64(request.offset) + Int64(done)
            let n = request.op == .read
                ? cshims_pread2(fd, buffer + done, request.length - done, offset, CSHIMS_RW_NOWAIT)
                : cshims_pwrite2(fd, buffer + done, request.length - done, offset, CSHIMS_RW_NOWAIT)
            if n > 0 {
                done += n
                continue
            }
            if n == 0 { break }  // end of file or nothing more cached: let the pool decide
            let err = Glibc.errno
            if err == EINTR { continue }
            if err == EAGAIN { break }
            if err == EOPNOTSUPP || err == EINVAL {
                device.learn(request.op == .read ? .noNowaitRead : .noNowaitWrite)
                break
            }
            return finishLater(completion, .failure(SystemError(errno: err, call: request.op == .read ? "preadv2" : "pwritev2")))
        }
        if done == request.length {
            statistics.inlineCompleted += 1
            return finishLater(completion, .success(done))
        }
        // The rest would block: hand the remainder to a worker and add what was already transferred.
        var rest = request
        rest.offset = request.offset + UInt64(done)
        rest.length = request.length - done
        rest.buffer = buffer + done
        let already = done
        toPool(rest, device, fd: fd) { result in completion(result.map { $0 + already }) }
    }

    // MARK: - Worker pool

    private func toPool(_ request: IORequest, _ device: BackingDevice, fd: Int32,
                        _ completion: @escaping (Result<Int, SystemError>) -> Void) {
        let pool: WorkerPool
        if let existing = self.pool {
            pool = existing
        } else {
            do throws(SystemError) {
                pool = try WorkerPool(threads: workerThreads, name: loop.name)
            } catch {
                return finishLater(completion, .failure(error))
            }
            self.pool = pool
        }
        statistics.poolSubmitted += 1
        let kind: PoolJob.Kind
        switch request.op {
        case .read: kind = .read
        case .write: kind = .write
        case .flush: kind = .flush
        case .discard: kind = .discard
        }
        let token = PendingBox(completion)
        pool.enqueue(PoolJob(
            kind: kind, fd: fd, buffer: request.buffer, offset: Int64(request.offset), length: request.length,
            fua: request.fua, device: device,
            // Weak: a worker must never drop the last reference (deinit would then join the pool from inside it).
            done: { [loop, weakSelf = WeakEngine(self)] result in
                loop.execute {
                    // Taken out of the box on the loop thread, so the completion — and what it holds, e.g. a SCSI
                    // task whose deinit touches loop-confined state — is released here, even when the worker
                    // drops its reference to the box last.
                    guard let completion = token.take() else { return }
                    if let engine = weakSelf.engine {
                        engine.finish(completion, result)
                    } else {
                        completion(result)
                    }
                }
            }))
    }

    // MARK: - Completion

    /// Runs a completion now (we are in an event handler, a task or deferred work — never inside submit).
    func finish(_ completion: (Result<Int, SystemError>) -> Void, _ result: Result<Int, SystemError>) {
        statistics.completed += 1
        completion(result)
    }

    /// Queues a completion for the end of this loop iteration (results known inside submit).
    private func finishLater(_ completion: @escaping (Result<Int, SystemError>) -> Void,
                             _ result: Result<Int, SystemError>) {
        ready.append((completion, result))
        guard !readyScheduled else { return }
        readyScheduled = true
        loop.deferToEndOfIteration { [self] in
            readyScheduled = false
            let batch = ready
            ready.removeAll(keepingCapacity: true)
            for item in batch { finish(item.completion, item.result) }
        }
    }
}

/// A weak, sendable reference to an engine (workers must not keep it alive).
final class WeakEngine: Sendable {
    weak let engine: IOEngine?
    init(_ engine: IOEngine) { self.engine = engine }
}

/// Carries a loop-confined completion through a worker thread without calling it there.
/// `@unchecked Sendable`: the closure is only read, and dropped, on the loop thread (inside `loop.execute`); the
/// worker only retains and releases the box.
final class PendingBox: @unchecked Sendable {
    private var completion: ((Result<Int, SystemError>) -> Void)?
    init(_ completion: @escaping (Result<Int, SystemError>) -> Void) { self.completion = completion }

    /// The completion, once (loop thread only); the box no longer holds it afterwards.
    func take() -> ((Result<Int, SystemError>) -> Void)? {
        defer { completion = nil }
        return completion
    }
}
