import CShims
import Glibc
import LinuxIO

/// The libaio path of one ``IOEngine`` (style anchors §A1, tgt `bs_aio`).
///
/// - One `io_context` sized `maxInFlight`; every iocb carries IOCB_FLAG_RESFD → an eventfd in the loop's epoll set.
/// - Requests submitted during a loop iteration are queued and sent in one `io_submit` from deferred work.
/// - `io_submit` may take fewer iocbs than offered, or return -EAGAIN: the rest stay queued, in order, and are
///   retried when completions free resources (or after 1 ms if nothing is in flight). Nothing is dropped.
/// - libaio returns `-errno`, never -1/errno; `io_event.res` is a byte count or a negative errno.
final class AIOQueue: EventHandler, @unchecked Sendable {
    private struct Queued {
        var request: IORequest
        var device: BackingDevice
        var completion: (Result<Int, SystemError>) -> Void
    }
    /// A request the kernel owns (the same fields as `Queued`, moved over unchanged); `device` keeps the fd
    /// open while the kernel holds the iocb.
    private typealias Slot = Queued

    /// Weak: the loop keeps this queue (as a handler) until `close()`, which may be later than the engine.
    private weak var engine: IOEngine?
    private let loop: EventLoop
    private let maxInFlight: Int
    private var context: io_context_t?
    private let eventFD: Int32
    private var registration: Registration?
    private let iocbs: UnsafeMutableRawPointer
    private let iocbPointers: UnsafeMutablePointer<UnsafeMutablePointer<iocb>?>
    private let events: UnsafeMutablePointer<io_event>
    /// Slots holding a prepared iocb not yet accepted by io_submit, in submission order, from `preparedHead`.
    private var prepared: [Int] = []
    private var preparedHead = 0
    private var slots: [Slot?]
    private var freeSlots: [Int]
    private var queue = FIFO<Queued>()
    private var flushScheduled = false
    private var retryTimer: TimerID?
    private(set) var inFlight = 0

    /// Replaces `io_submit` in tests (partial submission, EAGAIN injection). Returns a count or -errno.
    var submitHook: ((io_context_t?, Int, UnsafeMutablePointer<UnsafeMutablePointer<iocb>?>) -> Int32)?

    /// The real `io_submit` (for hooks that wrap it).
    static func kernelSubmit(_ ctx: io_context_t?, _ count: Int, _ iocbs: UnsafeMutablePointer<UnsafeMutablePointer<iocb>?>) -> Int32 {
        cshims_io_submit(ctx, count, iocbs)
    }

    init(engine: IOEngine, loop: EventLoop, maxInFlight: Int) throws(SystemError) {
        self.engine = engine
        self.loop = loop
        self.maxInFlight = maxInFlight
        var ctx: io_context_t?
        let rc = cshims_io_setup(Int32(clamping: maxInFlight), &ctx)
        guard rc == 0 else { throw SystemError(errno: -rc, call: "io_setup") }
        let efd = cshims_eventfd(0)
        guard efd >= 0 else {
            let err = Glibc.errno
            _ = cshims_io_destroy(ctx)
            throw SystemError(errno: err, call: "eventfd")
        }
        context = ctx
        eventFD = efd
        let iocbSize = cshims_iocb_size()
        iocbs = .allocate(byteCount: iocbSize * maxInFlight, alignment: 64)
        iocbs.initializeMemory(as: UInt8.self, repeating: 0, count: iocbSize * maxInFlight)
        iocbPointers = .allocate(capacity: maxInFlight)
        iocbPointers.initialize(repeating: nil, count: maxInFlight)
        events = .allocate(capacity: maxInFlight)
        prepared.reserveCapacity(maxInFlight)
        slots = Array(repeating: nil, count: maxInFlight)
        freeSlots = Array((0..<maxInFlight).reversed())
        do throws(SystemError) {
            // Edge-triggered and never read: completions come from the ring (no read(2) of the counter).
            registration = try loop.register(fd: efd, events: [.readable, .edgeTriggered], handler: self)
        } catch {
            releaseResources()
            throw error
        }
    }

    private func iocbPointer(_ slot: Int) -> UnsafeMutablePointer<iocb> {
        (iocbs + slot * cshims_iocb_size()).assumingMemoryBound(to: iocb.self)
    }

    private func releaseResources() {
        if let ctx = context { _ = cshims_io_destroy(ctx) }  // waits for in-flight iocbs
        context = nil
        _ = Glibc.close(eventFD)
        iocbs.deallocate()
        iocbPointers.deallocate()
        events.deallocate()
    }

    /// Destroys the context. Queued requests complete with ECANCELED; in-flight ones are waited for by
    /// io_destroy and their completions are dropped (shutdown only).
    func close() {
        guard context != nil else { return }
        if loop.isInLoopThread {
            closeOnLoop()
        } else {
            loop.execute { [self] in self.closeOnLoop() }
        }
    }

    private func closeOnLoop() {
        guard context != nil else { return }
        if let r = registration { loop.deregister(r); registration = nil }
        if let t = retryTimer { loop.cancel(t); retryTimer = nil }
        releaseResources()
        // Prepared but never accepted by the kernel, then still queued: all cancelled, in order.
        for slot in prepared[preparedHead...] {
            guard let s = slots.take(at: slot) else { continue }
            s.completion(.failure(SystemError(errno: ECANCELED, call: IOEngine.aioCall(s.request.op))))
        }
        prepared.removeAll()
        preparedHead = 0
        while let q = queue.popFirst() {
            q.completion(.failure(SystemError(errno: ECANCELED, call: IOEngine.aioCall(q.request.op))))
        }
    }

    func enqueue(_ request: IORequest, _ device: BackingDevice,
                 _ completion: @escaping (Result<Int, SystemError>) -> Void) {
        queue.append(Queued(request: request, device: device, completion: completion))
        scheduleFlush()
    }

    private func scheduleFlush() {
        guard !flushScheduled, retryTimer == nil else { return }
        flushScheduled = true
        // Everything queued during this iteration goes out in one io_submit.
        loop.deferToEndOfIteration(flushHook)
    }

    /// The end-of-iteration submit, built once (no closure allocated per loop iteration).
    private lazy var flushHook: () -> Void = { [weak self] in
        guard let self else { return }
        self.flushScheduled = false
        self.flush()
    }

    /// Submits as much of the queue as the in-flight cap allows. Queued requests move (not copy) into free
    /// slots with their iocb prepared; prepared slots go to the kernel in order, and those it does not take
    /// stay prepared for the next call.
    private func flush() {
        guard let ctx = context else { return }
        while true {
            while !queue.isEmpty, let slot = freeSlots.popLast() {
                guard let q = queue.popFirst() else { freeSlots.append(slot); break }
                let cmd: Int32
                switch q.request.op {
                case .read: cmd = 0
                case .write: cmd = 1
                case .flush: cmd = 3
                case .discard: cmd = 3  // never queued here (IOEngine sends discards to the pool)
                }
                // SBC-3 FUA on the direct path: RWF_DSYNC in aio_rw_flags (kernel ≥ 4.13).
                let flags = (q.request.op == .write && q.request.fua) ? CSHIMS_RW_DSYNC : 0
                cshims_io_prep(iocbPointer(slot), cmd, q.device.fd, q.request.buffer, q.request.length,
                               Int64(q.request.offset), flags, eventFD, UInt64(slot))
                slots[slot] = consume q
                prepared.append(slot)
            }
            let offered = prepared.count - preparedHead
            if offered == 0 { return }
            for i in 0..<offered { iocbPointers[i] = iocbPointer(prepared[preparedHead + i]) }
            engine?.statistics.ioSubmitCalls += 1
            let rc = submitHook?(ctx, offered, iocbPointers)
                ?? cshims_io_submit(ctx, offered, iocbPointers)
            let accepted = rc > 0 ? min(Int(rc), offered) : 0
            preparedHead += accepted
            if preparedHead == prepared.count {
                prepared.removeAll(keepingCapacity: true)
                preparedHead = 0
            }
            inFlight += accepted
            engine?.statistics.aioSubmitted += accepted
            if let engine, inFlight > engine.statistics.maxAIOInFlight { engine.statistics.maxAIOInFlight = inFlight }
            if rc > 0 {
                if accepted < offered { engine?.statistics.partialSubmits += 1 }
                continue  // offer the remainder: the next call either takes it, or reports why not
            }
            if rc == -EINTR { continue }
            if rc == -EAGAIN || rc == 0 {
                // Kernel resources exhausted: keep everything prepared, in order (tgt leaves the commands pending).
                engine?.statistics.eagainSubmits += 1
                if inFlight == 0 { armRetry() }  // otherwise the next completion resubmits
                return
            }
            // io_submit reports an error only for the first iocb: fail (or reroute) that one, keep the rest.
            let slot = prepared[preparedHead]
            preparedHead += 1
            if preparedHead == prepared.count {
                prepared.removeAll(keepingCapacity: true)
                preparedHead = 0
            }
            guard let refused = slots.take(at: slot) else { continue }
            freeSlots.append(slot)
            if let engine {
                engine.aioRefused(refused.request, refused.device, errno: -rc, refused.completion)
            } else {
                refused.completion(.failure(SystemError(errno: -rc, call: IOEngine.aioCall(refused.request.op))))
            }
        }
    }

    /// Requests not yet accepted by the kernel (queued, or prepared after a partial / EAGAIN submit).
    private var hasUnsubmitted: Bool { !queue.isEmpty || preparedHead < prepared.count }

    private func armRetry() {
        guard retryTimer == nil else { return }
        retryTimer = loop.schedule(after: 1_000_000) { [weak self] in
            guard let self else { return }
            self.retryTimer = nil
            self.flush()
        }
    }

    func handleEvents(_ events: EpollEvents) {
        reap()
        if hasUnsubmitted { scheduleFlush() }
    }

    /// Collects finished iocbs without blocking and runs their completions.
    private func reap() {
        while let ctx = context, inFlight > 0 {
            // The kernel's completion ring, read in user space: no system call per batch.
            let n = cshims_io_getevents_user(ctx, maxInFlight, self.events)
            if n == -EINTR { continue }
            guard n > 0 else { return }
            for i in 0..<Int(n) {
                let event = self.events + i
                let tag = cshims_io_event_tag(event)
                guard tag < UInt64(slots.count), let slot = slots.take(at: Int(tag)) else { continue }
                freeSlots.append(Int(tag))
                inFlight -= 1
                let res = cshims_io_event_res(event)
                let result: Result<Int, SystemError>
                let call = IOEngine.aioCall(slot.request.op)
                if res < 0 {
                    result = .failure(SystemError(errno: Int32(clamping: -res), call: call))
                } else if slot.request.op != .flush && res != Int64(slot.request.length) {
                    // A short transfer is an error, reported as EIO (not tgt's blanket MEDIUM ERROR).
                    result = .failure(SystemError(errno: EIO, call: call + "(short)"))
                } else {
                    result = .success(slot.request.op == .flush ? 0 : Int(res))
                }
                if let engine { engine.finish(slot.completion, result) } else { slot.completion(result) }
            }
            if Int(n) < maxInFlight { return }
        }
    }
}
