import Glibc
@testable import LinuxIO
import Synchronization
import Testing

/// The kernel thread id of the calling thread (from the /proc/thread-self link: "<pid>/task/<tid>").
private func currentTID() -> Int? {
    var buffer = [CChar](repeating: 0, count: 128)
    let n = readlink("/proc/thread-self", &buffer, buffer.count - 1)
    guard n > 0 else { return nil }
    let text = String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    return text.split(separator: "/").last.flatMap { Int($0) }
}

/// True when thread `tid` of this process is blocked in `epoll_wait`/`epoll_pwait` with an infinite timeout
/// (-1): the loop sleeps and is not polling. Nil when /proc cannot tell (no syscall file, unknown arch).
private func sleepsInEpollWait(_ tid: Int) -> Bool? {
    #if arch(x86_64)
    let numbers: Set<Substring> = ["232", "281"]  // epoll_wait, epoll_pwait
    #elseif arch(arm64)
    let numbers: Set<Substring> = ["22"]          // epoll_pwait
    #else
    return nil
    #endif
    let fd = open("/proc/self/task/\(tid)/syscall", O_RDONLY)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var buffer = [UInt8](repeating: 0, count: 512)
    let n = read(fd, &buffer, buffer.count)
    guard n > 0 else { return nil }
    let fields = String(decoding: buffer[0..<n], as: UTF8.self).split(whereSeparator: { $0 == " " || $0 == "\n" })
    // "running", or "<nr> <arg1> … <arg6> <sp> <pc>"; the timeout is the 4th argument (an int: low 32 bits).
    guard fields.count >= 5, numbers.contains(fields[0]) else { return false }
    guard let timeout = UInt64(fields[4].dropFirst(2), radix: 16) else { return false }
    return timeout & 0xFFFF_FFFF == 0xFFFF_FFFF
}

/// A loop under test: started, its thread id known, its poll window configured on the loop thread.
private struct PollLoop {
    let loop: EventLoop
    let tid: Int?

    static func start(_ name: String, maxPoll: UInt64) async throws -> PollLoop {
        let loop = try startedLoop(name)
        let tid: Int? = await onLoop(loop) { done in
            loop.maxPollNanoseconds = maxPoll
            done(currentTID())
        }
        return PollLoop(loop: loop, tid: tid)
    }

    /// Waits (bounded: 20 000 × 0.5 ms) until the loop thread sleeps in epoll_wait with no timeout.
    /// Nil when this system cannot show it (the caller skips).
    func waitUntilAsleep() async -> Bool? {
        guard let tid, sleepsInEpollWait(tid) != nil else { return nil }
        for _ in 0..<20_000 {
            if sleepsInEpollWait(tid) == true { return true }
            try? await Task.sleep(nanoseconds: 500_000)
        }
        return false
    }

    /// Asks for a polling window on the loop thread; returns `pollSpins` as it was just before the request.
    func request(_ nanoseconds: UInt64) async -> UInt64 {
        await onLoop(loop) { done in
            let spins = loop.pollSpins
            loop.pollBriefly(for: nanoseconds)
            done(spins)
        }
    }

    var spins: UInt64 { get async { await onLoop(loop) { done in done(loop.pollSpins) } } }

    /// A window that sees no event: request it, then wait until the loop is back asleep (so the next request
    /// cannot land inside it). False when the loop never went back to sleep.
    func missedWindow() async -> Bool {
        _ = await request(.max)  // clamped to the loop's maxPollNanoseconds
        return await waitUntilAsleep() == true
    }
}

/// Window length for the miss/backoff tests: long enough that the loop thread is never preempted past its end
/// before its first poll (such a window is not counted as a miss, which would shift the backoff by one request).
private let missWindow: UInt64 = 5_000_000

private func skipNoProc() {
    print("skipping poll-window test: /proc/self/task/<tid>/syscall does not show where the loop thread sleeps")
}

@Suite(.serialized) struct PollTests {
    /// maxPollNanoseconds 0 (the default): requests are ignored, no zero-timeout polling, work still runs.
    @Test func zeroMaxPollNeverSpinsAndWorkStillRuns() async throws {
        let p = try await PollLoop.start("poll-off", maxPoll: 0)
        defer { shutdown(p.loop) }
        for round in 0..<10 {
            // Deferred work and a timer armed in the same turn as the request both run.
            let ran: Int = await onLoop(p.loop) { done in
                p.loop.pollBriefly(for: 10_000_000)
                var parts = 0
                p.loop.deferToEndOfIteration { parts += 1; if parts == 2 { done(round) } }
                _ = p.loop.schedule(after: 100_000) { parts += 1; if parts == 2 { done(round) } }
            }
            #expect(ran == round)
        }
        #expect(await p.spins == 0)
        if await p.waitUntilAsleep() == false { Issue.record("loop never went back to sleep") }
        #expect(await p.spins == 0)
    }

    /// A request followed by an event from another thread: the handler runs, and the loop polled for it.
    @Test func eventFromAnotherThreadDuringAWindowIsHandled() async throws {
        let p = try await PollLoop.start("poll-hit", maxPoll: 200_000)
        defer { shutdown(p.loop) }
        let pipe = makePipe()
        defer { close(pipe.read); close(pipe.write) }
        let spinsInHandler: UInt64? = await onLoop(p.loop) { done in
            var registration: Registration?
            let handler = ClosureHandler { _ in
                drainFD(pipe.read)
                if let r = registration { p.loop.deregister(r) }
                done(p.loop.pollSpins)
            }
            registration = try? p.loop.register(fd: pipe.read, events: .readable, handler: handler)
            guard registration != nil else { done(nil); return }
            p.loop.pollBriefly(for: 200_000)
            Thread.detach { writeByte(pipe.write) }
        }
        #expect(spinsInHandler != nil, "the pipe could not be registered")
        #expect((spinsInHandler ?? 0) > 0, "the idle loop should have polled (zero-timeout epoll_wait) after the request")
    }

    /// A window with no event ends on its own: the loop goes back to sleeping in epoll_wait(-1), polls no more,
    /// and later work still runs.
    @Test func windowWithoutAnEventIsBounded() async throws {
        let p = try await PollLoop.start("poll-miss", maxPoll: 200_000)
        defer { shutdown(p.loop) }
        guard let idle = await p.waitUntilAsleep() else { skipNoProc(); return }
        #expect(idle)
        let before = await p.request(.max)  // clamped to maxPollNanoseconds
        #expect(await p.waitUntilAsleep() == true, "the loop kept polling after the window")
        let after = await p.spins
        #expect(after > before)
        // Asleep means not polling: a second look sees the same count, and execute still wakes the loop.
        #expect(await p.waitUntilAsleep() == true)
        #expect(await p.spins == after)
        let ran: Bool = await onLoop(p.loop) { done in done(true) }
        #expect(ran)
    }

    /// Four consecutive windows with no event: the next requests are ignored (exponential backoff).
    @Test func fourMissedWindowsBackOff() async throws {
        let p = try await PollLoop.start("poll-backoff", maxPoll: missWindow)
        defer { shutdown(p.loop) }
        guard await p.waitUntilAsleep() != nil else { skipNoProc(); return }
        var counts: [UInt64] = [await p.spins]
        for _ in 0..<4 {
            #expect(await p.missedWindow())
            counts.append(await p.spins)
        }
        // Each of the four windows polled at least once.
        for i in 1..<counts.count { #expect(counts[i] > counts[i - 1], "window \(i) did not poll: \(counts)") }
        let backedOff = counts[counts.count - 1]
        for _ in 0..<5 {
            #expect(await p.missedWindow())
        }
        #expect(await p.spins == backedOff, "requests after four misses should be ignored")
    }

    /// The backoff ends: after the ignored requests (16 after the fourth miss) a request polls again.
    @Test func backoffEndsAfterTheIgnoredRequests() async throws {
        let p = try await PollLoop.start("poll-retry", maxPoll: missWindow)
        defer { shutdown(p.loop) }
        guard await p.waitUntilAsleep() != nil else { skipNoProc(); return }
        for _ in 0..<4 { #expect(await p.missedWindow()) }
        let backedOff = await p.spins
        for _ in 0..<16 { #expect(await p.missedWindow()) }
        #expect(await p.spins == backedOff)
        #expect(await p.missedWindow())
        #expect(await p.spins > backedOff, "polling should resume once the skipped requests are used up")
    }

    /// An event inside a window resets the miss count: three misses, a hit, three misses — no backoff yet.
    @Test func aHitResetsTheMissCount() async throws {
        let p = try await PollLoop.start("poll-reset", maxPoll: missWindow)
        defer { shutdown(p.loop) }
        guard await p.waitUntilAsleep() != nil else { skipNoProc(); return }
        for _ in 0..<3 { #expect(await p.missedWindow()) }
        // The hit: the pipe is readable before the window starts, so its first zero-timeout poll finds it.
        let pipe = makePipe()
        defer { close(pipe.read); close(pipe.write) }
        let handled: Bool = await onLoop(p.loop) { done in
            var registration: Registration?
            let handler = ClosureHandler { _ in
                drainFD(pipe.read)
                if let r = registration { p.loop.deregister(r) }
                done(true)
            }
            registration = try? p.loop.register(fd: pipe.read, events: .readable, handler: handler)
            guard registration != nil else { done(false); return }
            writeByte(pipe.write)
            p.loop.pollBriefly(for: 200_000)
        }
        #expect(handled)
        #expect(await p.waitUntilAsleep() == true)
        for _ in 0..<3 { #expect(await p.missedWindow()) }
        // Three misses since the hit: this request still polls (it becomes the fourth miss).
        let before = await p.spins
        #expect(await p.missedWindow())
        #expect(await p.spins > before, "a hit should reset the consecutive-miss count")
    }
}
