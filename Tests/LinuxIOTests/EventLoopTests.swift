import Glibc
@testable import LinuxIO
import Synchronization
import Testing

@Suite struct EventLoopTests {
    @Test func epollConstantsMatchTheKernelHeaders() {
        let c = EpollEvents.fromC
        #expect(EpollEvents.readable.rawValue == c.readable)
        #expect(EpollEvents.writable.rawValue == c.writable)
        #expect(EpollEvents.error.rawValue == c.error)
        #expect(EpollEvents.hangup.rawValue == c.hangup)
        #expect(EpollEvents.readHangup.rawValue == c.readHangup)
    }

    @Test func registrationPacksFdAndIDIntoEpollData() {
        let r = Registration(fd: 1_000_000, id: 0xDEAD_BEEF)
        #expect(r.packed == 0xDEAD_BEEF_000F_4240)
        #expect(Registration(packed: r.packed) == r)
    }

    @Test func readableEventReachesTheHandler() async throws {
        let loop = try startedLoop()
        defer { shutdown(loop) }
        let p = makePipe()
        defer { close(p.read); close(p.write) }
        let events: EpollEvents = await onLoop(loop) { done in
            var registration: Registration?
            let handler = ClosureHandler { events in
                drainFD(p.read)
                if let r = registration { loop.deregister(r) }
                done(events)
            }
            registration = try? loop.register(fd: p.read, events: .readable, handler: handler)
            #expect(registration != nil)
            // Written from another thread while the loop sleeps in epoll_wait.
            Thread.detach { writeByte(p.write) }
        }
        #expect(events.contains(.readable))
        #expect(!events.contains(.writable))
    }

    @Test func modifyChangesInterestAndHangupIsAlwaysReported() async throws {
        let loop = try startedLoop()
        defer { shutdown(loop) }
        let p = makePipe()
        defer { close(p.read) }
        let events: EpollEvents = await onLoop(loop) { done in
            var registration: Registration?
            let handler = ClosureHandler { events in
                if let r = registration { loop.deregister(r) }
                done(events)
            }
            // Interested in nothing: only EPOLLHUP (always requested) can fire, once the writer closes.
            registration = try? loop.register(fd: p.read, events: .readable, handler: handler)
            if let r = registration { try? loop.modify(r, events: []) }
            close(p.write)
        }
        #expect(events == [.hangup])
    }

    @Test func executeFromManyThreadsRunsEverythingOnTheLoopThread() async throws {
        let loop = try startedLoop()
        defer { shutdown(loop) }
        let counter = Mutex(0)
        let offLoop = Mutex(0)
        let threads = 4, perThread = 500
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            for _ in 0..<threads {
                Thread.detach {
                    for _ in 0..<perThread {
                        loop.execute {
                            if !loop.isInLoopThread { offLoop.withLock { $0 += 1 } }
                            let n = counter.withLock { v -> Int in v += 1; return v }
                            if n == threads * perThread { c.resume() }
                        }
                    }
                }
            }
        }
        #expect(counter.withLock { $0 } == threads * perThread)
        #expect(offLoop.withLock { $0 } == 0)
        #expect(!loop.isInLoopThread)
    }

    /// NIO SelectorEpoll rule: an event queued for a registration that was removed during the batch must not
    /// reach a handler, even when the fd number was reused by a new registration in the same batch.
    @Test func staleEventAfterDeregisterAndFdReuseIsDropped() async throws {
        let loop = try startedLoop()
        defer { shutdown(loop) }
        let log = Recorder()
        let a = makePipe(), b = makePipe()
        writeByte(a.write); writeByte(b.write)  // both readable before the loop polls: one batch
        let reused: Int = await onLoop(loop) { done in
            var regs: [Int32: Registration] = [:]
            var fired = false
            var newFD: Int32 = -1
            func makeHandler(_ mine: (read: Int32, write: Int32), other: (read: Int32, write: Int32)) -> ClosureHandler {
                ClosureHandler { _ in
                    log.add("old-\(mine.read)")
                    drainFD(mine.read)
                    guard !fired else { return }
                    fired = true
                    // Remove the other registration and reuse its fd number for a new pipe. dup2 replaces the
                    // old file atomically, so no concurrently running test can grab the number in between.
                    if let r = regs[other.read] { loop.deregister(r) }
                    close(other.write)
                    let made = makePipe()
                    _ = dup2(made.read, other.read)
                    close(made.read)
                    let fresh = (read: other.read, write: made.write)
                    newFD = fresh.read
                    writeByte(fresh.write)
                    var freshReg: Registration?
                    let handler = ClosureHandler { _ in
                        log.add("new")
                        drainFD(fresh.read)
                        if let r = freshReg { loop.deregister(r) }
                        close(fresh.read); close(fresh.write)
                        if let r = regs[mine.read] { loop.deregister(r) }
                        close(mine.read); close(mine.write)
                        done(newFD == other.read ? loop.staleEventsDropped : -1)
                    }
                    freshReg = try? loop.register(fd: fresh.read, events: .readable, handler: handler)
                    loop.deferToEndOfIteration { log.add("end-of-batch") }
                }
            }
            regs[a.read] = try? loop.register(fd: a.read, events: .readable, handler: makeHandler(a, other: b))
            regs[b.read] = try? loop.register(fd: b.read, events: .readable, handler: makeHandler(b, other: a))
        }
        #expect(reused != -1, "the new pipe should reuse the closed fd number")
        #expect(reused == 1, "exactly the one stale event of the batch is dropped")
        let calls = log.all
        #expect(calls.filter { $0.hasPrefix("old-") }.count == 1, "\(calls)")
        #expect(calls.suffix(2) == ["end-of-batch", "new"], "\(calls)")
    }

    @Test func timersRunInDeadlineThenSchedulingOrderAndCancelWorks() async throws {
        let loop = try startedLoop()
        defer { shutdown(loop) }
        let log = Recorder()
        await onLoop(loop) { (done: @escaping @Sendable (Bool) -> Void) in
            _ = loop.schedule(after: 30_000_000) { log.add("30") }
            _ = loop.schedule(after: 10_000_000) { log.add("10a") }
            _ = loop.schedule(after: 20_000_000) { log.add("20") }
            _ = loop.schedule(after: 10_000_000) { log.add("10b") }
            let cancelled = loop.schedule(after: 5_000_000) { log.add("cancelled") }
            loop.cancel(cancelled)
            _ = loop.schedule(after: 0) { log.add("0") }
            _ = loop.schedule(after: 50_000_000) { done(true) }
        }
        #expect(log.all == ["0", "10a", "10b", "20", "30"])
    }

    @Test func timerDoesNotFireEarly() async throws {
        let loop = try startedLoop()
        defer { shutdown(loop) }
        let start = monotonicNanoseconds()
        let end: UInt64 = await onLoop(loop) { done in
            _ = loop.schedule(after: 20_000_000) { done(monotonicNanoseconds()) }
        }
        #expect(end - start >= 20_000_000)
    }

    /// Timers run only in iterations where the timerfd fired: a chain of zero-delay timers (each due at once, so
    /// the fd is re-armed for a deadline already past) and timers due while another fd keeps every iteration busy
    /// must all still run.
    @Test func timersFireThroughChainsAndBusyIterations() async throws {
        let loop = try startedLoop()
        defer { shutdown(loop) }
        let busy = makePipe()
        defer { close(busy.read); close(busy.write) }
        writeByte(busy.write)  // never drained: level-triggered, readable in every iteration
        let chained: Int = await onLoop(loop) { done in
            var count = 0
            func next() {
                count += 1
                if count == 50 { done(count); return }
                _ = loop.schedule(after: 0) { next() }
            }
            _ = loop.schedule(after: 0) { next() }
        }
        #expect(chained == 50)
        let busyIterations: Int = await onLoop(loop) { done in
            var events = 0
            let reg = try? loop.register(fd: busy.read, events: .readable, handler: ClosureHandler { _ in events += 1 })
            _ = loop.schedule(after: 2_000_000) {
                if let reg { loop.deregister(reg) }
                done(events)
            }
        }
        #expect(busyIterations > 0, "the busy fd was reported while the timer was pending")
    }

    @Test func manyCancelledTimersDoNotAccumulate() {
        var q = TimerQueue()
        for i in 0..<10_000 {
            let id = q.insert(deadline: UInt64(1_000_000 + i)) {}
            q.cancel(id)
        }
        #expect(q.isEmpty)
        #expect(q.earliestDeadline == nil)
    }

    @Test func deferredWorkRunsAtTheEndOfTheSameIteration() async throws {
        let loop = try startedLoop()
        defer { shutdown(loop) }
        let log = Recorder()
        await onLoop(loop) { (done: @escaping @Sendable (Bool) -> Void) in
            loop.execute { log.add("next-iteration task"); done(true) }
            loop.deferToEndOfIteration {
                log.add("deferred")
                loop.deferToEndOfIteration { log.add("deferred by deferred") }
            }
            log.add("task")
        }
        #expect(log.all == ["task", "deferred", "deferred by deferred", "next-iteration task"])
    }

    @Test func runOnTheCallingThreadUntilStop() throws {
        let loop = try EventLoop(name: "caller")
        #expect(!loop.isInLoopThread)
        let ran = Mutex(false)
        loop.execute {
            ran.withLock { $0 = loop.isInLoopThread }
            loop.stop()
        }
        loop.run()
        #expect(ran.withLock { $0 })
        #expect(!loop.isInLoopThread)
    }

    @Test func startLoopsGivesEachLoopItsOwnThread() async throws {
        let loops = try EventLoop.startLoops(count: 3, namePrefix: "worker-")
        defer { for l in loops { shutdown(l) } }
        #expect(loops.map(\.name) == ["worker-0", "worker-1", "worker-2"])
        var ids: Set<UInt> = []
        for l in loops {
            let id: UInt = await onLoop(l) { done in done(pthread_self()) }
            ids.insert(id)
        }
        #expect(ids.count == 3)
    }

    @Test func systemErrorDescriptionNamesCallAndErrno() {
        let e = SystemError(errno: ECONNRESET, call: "read")
        #expect(e.description.hasPrefix("read: "))
        #expect(e.description.hasSuffix("(errno \(ECONNRESET))"))
        #expect(e == SystemError(errno: ECONNRESET, call: "read"))
    }
}

/// A detached pthread running a closure (tests only).
enum Thread {
    static func detach(_ body: @escaping @Sendable () -> Void) {
        final class Box { let body: @Sendable () -> Void; init(_ b: @escaping @Sendable () -> Void) { body = b } }
        let arg = Unmanaged.passRetained(Box(body)).toOpaque()
        var tid = pthread_t()
        let rc = pthread_create(&tid, nil, { raw in
            guard let raw else { return nil }
            Unmanaged<Box>.fromOpaque(raw).takeRetainedValue().body()
            return nil
        }, arg)
        precondition(rc == 0)
        pthread_detach(tid)
    }
}
