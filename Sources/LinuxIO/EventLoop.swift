import CShims
import Glibc
import Synchronization

/// Identifies a timer scheduled with ``EventLoop/schedule(after:_:)``.
public struct TimerID: Hashable, Sendable {
    let raw: UInt64
}

/// A single-threaded, level-triggered epoll event loop (style anchors §B2/§B3).
///
/// - One `epoll` instance; an `eventfd` for cross-thread wake-ups (``execute(_:)``); a `timerfd` for timers.
/// - Each registration packs the fd and a registration ID into `epoll_data.u64`; an event whose ID no longer
///   matches the fd's current registration is dropped, so deregistering (and even closing and reusing the fd
///   number) in the middle of a batch never delivers a stale event to the new handler.
/// - One iteration: `epoll_wait` → handlers → expired timers → tasks from ``execute(_:)`` → work deferred
///   with ``deferToEndOfIteration(_:)`` (used to batch `io_submit` and `writev` flushes).
///
/// All methods except ``execute(_:)``, ``stop()``, ``isInLoopThread`` and ``waitUntilStopped()`` must be called on
/// the loop thread; before the loop first runs, the creating thread may also configure it. This is checked at
/// run time, which is what makes the `@unchecked Sendable` conformance acceptable (NIO `NIOLoopBound`).
public final class EventLoop: @unchecked Sendable {
    /// The loop's name (also the thread name when started with ``start()``).
    public let name: String

    private let epfd: Int32
    private let wakeFD: Int32
    private let timerFD: Int32

    /// The pthread running the loop; 0 before it first runs.
    private let loopThread = Atomic<UInt>(0)
    private let stopRequested = Atomic<Bool>(false)
    private let pending = Mutex<[@Sendable () -> Void]>([])
    private let spawned = Mutex<pthread_t?>(nil)

    // Loop-confined state.
    private struct Entry {
        var id: UInt32
        var interested: EpollEvents
        var handler: any EventHandler
    }
    private var entries: [Entry?] = []
    private var nextRegistrationID: UInt32 = 1
    private var deferred: [() -> Void] = []
    private var deferredScratch: [() -> Void] = []
    private var taskScratch: [@Sendable () -> Void] = []
    private var timers = TimerQueue()
    private var armedDeadline: UInt64 = 0
    /// The timerfd reported expiry in this iteration: only then can a timer be due (the fd is armed for the
    /// earliest deadline), so other iterations skip the clock read (≈ 1.4 % of the 4K write path's CPU here).
    private var timerFired = false
    private var eventBuffer: UnsafeMutablePointer<epoll_event>
    private var eventCapacity: Int
    /// Events dropped because their registration changed during the batch (for tests and metrics).
    public private(set) var staleEventsDropped = 0

    /// Registration ID 0 is reserved for the loop's own eventfd and timerfd.
    private static let internalID: UInt32 = 0
    private static let maxEventCapacity = 4096
    /// Rounds of deferred work per iteration before going back to epoll (work deferred by deferred work).
    private static let maxDeferredRounds = 8

    /// Creates the epoll instance, the wake-up eventfd and the timerfd.
    /// - Throws: `SystemError` from `epoll_create1`, `eventfd`, `timerfd_create` or `epoll_ctl`.
    public init(name: String) throws(SystemError) {
        self.name = name
        let ep = cshims_epoll_create()
        guard ep >= 0 else { throw SystemError(errno: Glibc.errno, call: "epoll_create1") }
        let wfd = cshims_eventfd(0)
        guard wfd >= 0 else {
            let e = Glibc.errno
            closeIgnoringErrors(ep)
            throw SystemError(errno: e, call: "eventfd")
        }
        let tfd = cshims_timerfd_create()
        guard tfd >= 0 else {
            let e = Glibc.errno
            closeIgnoringErrors(ep); closeIgnoringErrors(wfd)
            throw SystemError(errno: e, call: "timerfd_create")
        }
        let readable = EpollEvents.readable.rawValue
        if cshims_epoll_ctl(ep, 0, wfd, readable, Registration(fd: wfd, id: Self.internalID).packed) != 0
            || cshims_epoll_ctl(ep, 0, tfd, readable, Registration(fd: tfd, id: Self.internalID).packed) != 0
        {
            let e = Glibc.errno
            closeIgnoringErrors(ep); closeIgnoringErrors(wfd); closeIgnoringErrors(tfd)
            throw SystemError(errno: e, call: "epoll_ctl")
        }
        self.epfd = ep
        self.wakeFD = wfd
        self.timerFD = tfd
        self.eventCapacity = 64
        self.eventBuffer = .allocate(capacity: 64)
    }

    deinit {
        closeIgnoringErrors(epfd)
        closeIgnoringErrors(wakeFD)
        closeIgnoringErrors(timerFD)
        eventBuffer.deallocate()
    }

    // MARK: - Threads

    /// True when called on the thread that runs this loop.
    public var isInLoopThread: Bool {
        loopThread.load(ordering: .acquiring) == pthread_self()
    }

    /// Traps unless called on the loop thread (or before the loop has first run).
    public func preconditionInLoopThread(file: StaticString = #fileID, line: UInt = #line) {
        let t = loopThread.load(ordering: .acquiring)
        precondition(t == 0 || t == pthread_self(), "EventLoop \(name) used off its thread", file: file, line: line)
    }

    /// Runs the loop on the calling thread until ``stop()`` is called.
    public func run() {
        let me = pthread_self()
        let previous = loopThread.exchange(me, ordering: .acquiringAndReleasing)
        precondition(previous == 0 || previous == me, "EventLoop \(name) is already running on another thread")
        defer { loopThread.store(0, ordering: .releasing) }
        while !stopRequested.load(ordering: .acquiring) {
            runOnce()
        }
    }

    /// Asks the loop to stop after its current iteration. Callable from any thread.
    public func stop() {
        stopRequested.store(true, ordering: .releasing)
        wake()
    }

    /// Spawns a pthread (named after the loop) that runs ``run()``.
    /// - Throws: `SystemError` from `pthread_create`.
    public func start() throws(SystemError) {
        let body = ThreadBody { [self] in
            cshims_set_thread_name(self.name)
            self.run()
        }
        let arg = Unmanaged.passRetained(body).toOpaque()
        var tid = pthread_t()
        let rc = pthread_create(&tid, nil, { raw in
            guard let raw else { return nil }
            let body = Unmanaged<ThreadBody>.fromOpaque(raw).takeRetainedValue()
            body.run()
            return nil
        }, arg)
        guard rc == 0 else {
            Unmanaged<ThreadBody>.fromOpaque(arg).release()
            throw SystemError(errno: rc, call: "pthread_create")
        }
        // Record the owner now, so that after start() returns the creating thread is no longer allowed to
        // touch loop-confined state (the new thread stores the same value when it enters run()).
        _ = loopThread.compareExchange(expected: 0, desired: tid, ordering: .acquiringAndReleasing)
        spawned.withLock { $0 = tid }
    }

    /// Joins the thread spawned by ``start()`` (call ``stop()`` first). No-op if the loop was not started that way.
    /// Must not be called on the loop thread.
    public func waitUntilStopped() {
        guard let tid = spawned.withLock({ t -> pthread_t? in defer { t = nil }; return t }) else { return }
        precondition(pthread_equal(tid, pthread_self()) == 0, "waitUntilStopped() called on the loop thread")
        pthread_join(tid, nil)
    }

    /// Creates `count` loops named `"\(namePrefix)\(index)"`, each running on its own pthread.
    /// - Throws: `SystemError`; loops already started are stopped and joined first.
    public static func startLoops(count: Int, namePrefix: String) throws(SystemError) -> [EventLoop] {
        var loops: [EventLoop] = []
        do throws(SystemError) {
            for i in 0..<max(count, 0) {
                let loop = try EventLoop(name: "\(namePrefix)\(i)")
                try loop.start()
                loops.append(loop)
            }
        } catch {
            for l in loops { l.stop() }
            for l in loops { l.waitUntilStopped() }
            throw error
        }
        return loops
    }

    // MARK: - Registrations

    /// Registers `fd` for `events` (`.error` and `.hangup` are always added, as NIO does explicitly).
    /// The loop keeps a strong reference to `handler` until ``deregister(_:)``.
    /// - Throws: `SystemError` from `epoll_ctl(EPOLL_CTL_ADD)` (e.g. EEXIST if `fd` is still registered).
    public func register(fd: Int32, events: EpollEvents, handler: any EventHandler) throws(SystemError) -> Registration {
        preconditionInLoopThread()
        guard fd >= 0 else { throw SystemError(errno: EBADF, call: "epoll_ctl(ADD)") }
        let id = nextRegistrationID
        nextRegistrationID &+= 1
        if nextRegistrationID == Self.internalID { nextRegistrationID = 1 }
        let registration = Registration(fd: fd, id: id)
        let mask = events.union([.error, .hangup])
        guard cshims_epoll_ctl(epfd, 0, fd, mask.rawValue, registration.packed) == 0 else {
            throw SystemError(errno: Glibc.errno, call: "epoll_ctl(ADD)")
        }
        let index = Int(fd)
        if index >= entries.count {
            entries.append(contentsOf: repeatElement(nil, count: index + 1 - entries.count))
        }
        entries[index] = Entry(id: id, interested: mask, handler: handler)
        return registration
    }

    /// Changes the events a registration is interested in.
    /// - Throws: `SystemError(ENOENT)` if the registration is no longer current, or from `epoll_ctl(EPOLL_CTL_MOD)`.
    public func modify(_ registration: Registration, events: EpollEvents) throws(SystemError) {
        preconditionInLoopThread()
        let index = Int(registration.fd)
        guard index >= 0, index < entries.count, var entry = entries[index], entry.id == registration.id else {
            throw SystemError(errno: ENOENT, call: "epoll_ctl(MOD)")
        }
        let mask = events.union([.error, .hangup])
        if mask == entry.interested { return }
        guard cshims_epoll_ctl(epfd, 1, registration.fd, mask.rawValue, registration.packed) == 0 else {
            throw SystemError(errno: Glibc.errno, call: "epoll_ctl(MOD)")
        }
        entry.interested = mask
        entries[index] = entry
    }

    /// Removes a registration and releases its handler. Safe in the middle of an event batch: later events of
    /// the batch for it are dropped. A registration that is no longer current is ignored. Call it before
    /// closing the fd (after a close the kernel has already removed it, and the error is ignored).
    public func deregister(_ registration: Registration) {
        preconditionInLoopThread()
        let index = Int(registration.fd)
        guard index >= 0, index < entries.count, let entry = entries[index], entry.id == registration.id else { return }
        entries[index] = nil
        // ENOENT/EBADF here only mean the fd was closed first, which already removed it from the epoll set.
        _ = cshims_epoll_ctl(epfd, 2, registration.fd, 0, 0)
    }

    // MARK: - Work

    /// Runs `work` on the loop thread in a later iteration. Callable from any thread; wakes the loop via eventfd.
    public func execute(_ work: @escaping @Sendable () -> Void) {
        let wasEmpty = pending.withLock { tasks -> Bool in
            let empty = tasks.isEmpty
            tasks.append(work)
            return empty
        }
        // Only the first task of a batch needs a wake-up; the loop drains the whole queue after waking.
        if wasEmpty && !isInLoopThread { wake() }
    }

    /// Runs `work` on the loop thread after the current event batch, timers and tasks (loop thread only).
    public func deferToEndOfIteration(_ work: @escaping () -> Void) {
        preconditionInLoopThread()
        deferred.append(work)
    }

    /// Runs `work` on the loop thread once `nanoseconds` have passed (CLOCK_MONOTONIC, via timerfd).
    /// Timers with the same deadline run in the order they were scheduled.
    public func schedule(after nanoseconds: UInt64, _ work: @escaping () -> Void) -> TimerID {
        preconditionInLoopThread()
        let (sum, overflow) = monotonicNanoseconds().addingReportingOverflow(nanoseconds)
        let id = timers.insert(deadline: overflow ? UInt64.max : sum, work)
        if !isInLoopThread { rearmTimer() }  // configuring before the loop runs
        return id
    }

    /// Cancels a timer; no-op if it already ran or was cancelled.
    public func cancel(_ id: TimerID) {
        preconditionInLoopThread()
        timers.cancel(id)
    }

    // MARK: - The iteration

    private func wake() {
        var one: UInt64 = 1
        // EAGAIN (counter saturated) still leaves the eventfd readable, which is all we need.
        _ = withUnsafeBytes(of: &one) { Glibc.write(wakeFD, $0.baseAddress, 8) }
    }

    private func drain(_ fd: Int32) {
        var value: UInt64 = 0
        _ = withUnsafeMutableBytes(of: &value) { Glibc.read(fd, $0.baseAddress, 8) }
    }

    /// Low-queue-depth polling (off while `maxPollNanoseconds` is 0). A component that expects an event within
    /// microseconds — an AIO completion for the only I/O in flight, the next command of an initiator that has
    /// nothing outstanding — calls this; until the window ends an idle loop calls `epoll_wait` with a zero
    /// timeout instead of sleeping, trading a little CPU for the wake-up latency of a sleeping thread (two per
    /// command at queue depth 1). Windows are bounded by `maxPollNanoseconds`; a busy loop never polls.
    public func pollBriefly(for nanoseconds: UInt64) {
        guard maxPollNanoseconds > 0 else { return }
        if pollSkips > 0 {
            pollSkips -= 1
            return
        }
        let deadline = monotonicNanoseconds() &+ min(nanoseconds, maxPollNanoseconds)
        if deadline > pollDeadline { pollDeadline = deadline }
    }

    /// Upper bound of one polling window (see ``pollBriefly(for:)``); 0 disables polling.
    public var maxPollNanoseconds: UInt64 = 0
    private var pollDeadline: UInt64 = 0
    /// Consecutive windows that ended with nothing to do, and requests to ignore because of them: when the
    /// expected event keeps arriving later than the window (slow disks, an initiator with think time) polling
    /// only burns CPU, so it backs off exponentially (16 … 1024 requests) and retries.
    private var pollMisses = 0
    private var pollSkips = 0
    /// Zero-timeout `epoll_wait` calls made while polling (diagnostics).
    public private(set) var pollSpins: UInt64 = 0

    private func runOnce() {
        let hasWork = !deferred.isEmpty || pending.withLock { !$0.isEmpty }
        var n: Int32
        if hasWork {
            n = cshims_epoll_wait(epfd, eventBuffer, Int32(eventCapacity), 0)
        } else if pollDeadline != 0 {
            // Bounded: at most `maxPollNanoseconds` of zero-timeout polls, then sleep as usual. A window that
            // already ran out while the loop was busy is no evidence either way (not counted as a miss).
            let windowOpen = monotonicNanoseconds() < pollDeadline
            repeat {
                n = cshims_epoll_wait(epfd, eventBuffer, Int32(eventCapacity), 0)
                pollSpins &+= 1
            } while n == 0 && monotonicNanoseconds() < pollDeadline
            pollDeadline = 0
            if n == 0 && windowOpen {
                pollMisses += 1
                if pollMisses >= 4 { pollSkips = 16 << min(pollMisses - 4, 6) }
            } else if n > 0 {
                pollMisses = 0
            }
            if n == 0 { n = cshims_epoll_wait(epfd, eventBuffer, Int32(eventCapacity), -1) }
        } else {
            n = cshims_epoll_wait(epfd, eventBuffer, Int32(eventCapacity), -1)
        }
        if n < 0 {
            let err = Glibc.errno
            precondition(err == EINTR, "epoll_wait failed with errno \(err)")
        }
        if n > 0 {
            for i in 0..<Int(n) {
                dispatch(eventBuffer + i)
            }
            if Int(n) == eventCapacity && eventCapacity < Self.maxEventCapacity {
                // A full batch: grow (NIO `growEventArrayIfNeeded`).
                eventBuffer.deallocate()
                eventCapacity *= 2
                eventBuffer = .allocate(capacity: eventCapacity)
            }
        }
        runExpiredTimers()
        runTasks()
        runDeferred()
        rearmTimer()
    }

    private func dispatch(_ event: UnsafePointer<epoll_event>) {
        let registration = Registration(packed: cshims_epoll_event_data(event))
        if registration.id == Self.internalID {
            if registration.fd == timerFD {
                drain(registration.fd)
                timerFired = true
            } else if registration.fd == wakeFD {
                drain(registration.fd)
            }
            return
        }
        let index = Int(registration.fd)
        // NIO SelectorEpoll: skip events for registrations that changed or went away during this batch.
        guard index >= 0, index < entries.count, let entry = entries[index], entry.id == registration.id else {
            staleEventsDropped += 1
            return
        }
        let ready = EpollEvents(rawValue: cshims_epoll_event_mask(event)).intersection(entry.interested)
        if ready.isEmpty { return }
        entry.handler.handleEvents(ready)
    }

    private func runExpiredTimers() {
        guard timerFired else { return }
        timerFired = false
        // The fd fired and is now disarmed (one-shot): re-arm it at the end of this iteration even if the
        // earliest deadline did not change, so a timer that is not yet due by our clock read cannot be stranded.
        armedDeadline = 0
        guard !timers.isEmpty else { return }
        let now = monotonicNanoseconds()
        while let work = timers.popExpired(now: now) {
            work()
        }
    }

    private func runTasks() {
        pending.withLock { tasks in swap(&tasks, &taskScratch) }
        for task in taskScratch { task() }
        taskScratch.removeAll(keepingCapacity: true)
    }

    private func runDeferred() {
        var round = 0
        while !deferred.isEmpty && round < Self.maxDeferredRounds {
            // Swap with the scratch array: no copy-on-write allocation per round.
            swap(&deferred, &deferredScratch)
            for work in deferredScratch { work() }
            deferredScratch.removeAll(keepingCapacity: true)
            round += 1
        }
    }

    private func rearmTimer() {
        let next = timers.earliestDeadline ?? 0
        if next != armedDeadline {
            // timerfd_settime on our own fd with a valid struct cannot fail.
            _ = cshims_timerfd_arm_absolute(timerFD, next == 0 ? 0 : max(next, 1))
            armedDeadline = next
        }
    }
}

/// Carries a thread body through `pthread_create`'s `void *` argument.
private final class ThreadBody {
    let run: () -> Void
    init(_ run: @escaping () -> Void) { self.run = run }
}
