@testable import BlockStore
import CShims
import Glibc
import LinuxIO
import Synchronization
import Testing

/// Block `block`'s content: its number in the first 4 bytes of every 512-byte sector, then a mix of both.
private func pattern(block: Int, into p: UnsafeMutableRawPointer, length: Int) {
    for j in 0..<length {
        let inSector = j % 512
        let byte: UInt8
        if inSector < 4 {
            byte = UInt8(truncatingIfNeeded: UInt32(block) >> (8 * UInt32(3 - inSector)))
        } else {
            byte = UInt8(truncatingIfNeeded: block &* 131 ^ j &* 7 ^ j >> 9)
        }
        p.storeBytes(of: byte, toByteOffset: j, as: UInt8.self)
    }
}

/// The loop-side bookkeeping of the sliding-window run (loop thread only; read after the run).
private final class RingRun: @unchecked Sendable {
    var completions: [Int]
    var wrongResults: [String] = []
    var inFlight = 0
    var maxInFlight = 0
    init(count: Int) { completions = Array(repeating: 0, count: count) }
}

/// One operation of the run: a read or a write of one 4 KiB block.
private struct BlockOp {
    var write: Bool
    var block: Int
}

/// The AIO ring layout the user-space reaper understands (fs/aio.c struct aio_ring: id, nr, head, tail, magic).
private func ringMagic(_ ctx: io_context_t) -> UInt32 {
    UnsafeRawPointer(ctx).load(fromByteOffset: 16, as: UInt32.self)
}

@Suite(.serialized) struct AIORingTests {
    static let blockSize = 4096
    static let window = 64

    /// Runs `ops` through the engine keeping at most `window` in flight; every completion counted per op.
    private func runWindowed(_ h: Harness, _ ops: [BlockOp], device: BackingDevice, writeBuffers: [IOBuffer],
                             readBuffers: [IOBuffer], run: RingRun, offset: Int) async {
        let opsBox = OpsBox(ops), writes = BuffersBox(writeBuffers), reads = BuffersBox(readBuffers)
        let _: Bool = await h.onLoop { engine, done in
            var next = 0
            var finished = 0
            func submitMore() {
                while run.inFlight < AIORingTests.window && next < opsBox.ops.count {
                    let index = next
                    let op = opsBox.ops[index]
                    next += 1
                    let at = UInt64(op.block * AIORingTests.blockSize)
                    let request: IORequest = op.write
                        ? .write(offset: at, length: AIORingTests.blockSize, from: writes.buffers[op.block].pointer)
                        : .read(offset: at, length: AIORingTests.blockSize, into: reads.buffers[op.block].pointer)
                    run.inFlight += 1
                    run.maxInFlight = max(run.maxInFlight, run.inFlight)
                    engine.submit(request, on: device) { result in
                        run.completions[offset + index] += 1
                        if result != .success(AIORingTests.blockSize) {
                            run.wrongResults.append("op \(offset + index) (\(op.write ? "write" : "read") block \(op.block)): \(result)")
                        }
                        run.inFlight -= 1
                        finished += 1
                        if finished == opsBox.ops.count { done(true) } else { submitMore() }
                    }
                }
            }
            if opsBox.ops.isEmpty { done(true) } else { submitMore() }
        }
    }

    /// 1000 O_DIRECT reads and writes (500 blocks, each written once and read once), at most 64 in flight:
    /// every completion arrives exactly once with 4096 bytes, and every block reads back as written.
    @Test(arguments: ["/tmp", "/dev/shm"])
    func windowedDirectIOCompletesEachRequestOnce(directory: String) async throws {
        let blocks = 500
        let file = try TempFile(directory: directory, size: blocks * Self.blockSize)
        defer { file.remove() }
        guard let device = try openDirectOrSkip(file.path) else { return }
        let h = try Harness(maxInFlight: 64)
        let writeBuffers = (0..<blocks).map { b -> IOBuffer in
            let buffer = IOBuffer(capacity: Self.blockSize)
            pattern(block: b, into: buffer.pointer, length: Self.blockSize)
            return buffer
        }
        let readBuffers = (0..<blocks).map { _ -> IOBuffer in
            let buffer = IOBuffer(capacity: Self.blockSize)
            buffer.pointer.initializeMemory(as: UInt8.self, repeating: 0xEE, count: Self.blockSize)
            return buffer
        }
        let half = blocks / 2
        // Phases so that no read overlaps a write of its block still in flight: write the first half; read it
        // back while writing the second half; read the second half.
        let phaseA = (0..<half).map { BlockOp(write: true, block: $0) }
        var phaseB: [BlockOp] = []
        for k in 0..<half { phaseB.append(BlockOp(write: false, block: k)); phaseB.append(BlockOp(write: true, block: half + k)) }
        let phaseC = (half..<blocks).map { BlockOp(write: false, block: $0) }
        let total = phaseA.count + phaseB.count + phaseC.count
        let run = RingRun(count: total)
        await runWindowed(h, phaseA, device: device, writeBuffers: writeBuffers, readBuffers: readBuffers, run: run, offset: 0)
        await runWindowed(h, phaseB, device: device, writeBuffers: writeBuffers, readBuffers: readBuffers, run: run,
                          offset: phaseA.count)
        await runWindowed(h, phaseC, device: device, writeBuffers: writeBuffers, readBuffers: readBuffers, run: run,
                          offset: phaseA.count + phaseB.count)
        // One more loop turn with I/O, so a completion reaped twice would have been delivered by now.
        let extra = IOBuffer(capacity: Self.blockSize)
        #expect(await h.run(.read(offset: 0, length: Self.blockSize, into: extra.pointer), on: device) == .success(Self.blockSize))
        let (counts, wrong, maxSeen): ([Int], [String], Int) = await h.onLoop { _, done in
            done((run.completions, run.wrongResults, run.maxInFlight))
        }
        #expect(counts.count == total)
        let notOnce = counts.indices.filter { counts[$0] != 1 }
        #expect(notOnce.isEmpty, "ops completed other than once: \(notOnce.prefix(10).map { "\($0)×\(counts[$0])" })")
        #expect(wrong.isEmpty, "\(wrong.prefix(10))")
        #expect(maxSeen <= Self.window)
        var mismatched: [Int] = []
        for b in 0..<blocks where bytes(readBuffers[b], Self.blockSize) != bytes(writeBuffers[b], Self.blockSize) {
            mismatched.append(b)
        }
        #expect(mismatched.isEmpty, "blocks read back wrong: \(mismatched.prefix(10))")
        let stats = await h.statistics
        #expect(stats.aioSubmitted == total + 1, "every request should go through libaio: \(stats)")
        #expect(stats.poolSubmitted == 0)
        #expect(stats.completed == stats.submitted)
        #expect(stats.maxAIOInFlight <= 64)
        await h.shutdown()
    }

    /// The C shim alone: rounds of iocbs (no eventfd) drained with cshims_io_getevents_user in a bounded loop.
    /// More completions in total than the ring holds, so its head wraps; after each drain the kernel agrees that
    /// nothing is left (io_getevents returns 0), i.e. the consumer head was published.
    @Test(arguments: ["/tmp", "/dev/shm"])
    func userRingReaperSeesEveryTagOnce(directory: String) async throws {
        let perRound = 32, rounds = 40, blocks = 64
        let file = try TempFile(directory: directory, size: blocks * Self.blockSize)
        defer { file.remove() }
        guard let device = try openDirectOrSkip(file.path) else { return }
        var ctx: io_context_t?
        let rc = cshims_io_setup(Int32(perRound), &ctx)
        #expect(rc == 0, "io_setup: \(rc)")
        guard rc == 0, let ctx else { return }
        defer { _ = cshims_io_destroy(ctx) }
        if ringMagic(ctx) != 0xA10A_10A1 {
            print("note: the AIO ring header is not the known layout here; cshims_io_getevents_user falls back to io_getevents")
        }
        let iocbSize = cshims_iocb_size()
        let iocbs = UnsafeMutableRawPointer.allocate(byteCount: iocbSize * perRound, alignment: 64)
        defer { iocbs.deallocate() }
        let pointers = UnsafeMutablePointer<UnsafeMutablePointer<iocb>?>.allocate(capacity: perRound)
        defer { pointers.deallocate() }
        let events = UnsafeMutablePointer<io_event>.allocate(capacity: perRound)
        defer { events.deallocate() }
        let buffers = (0..<perRound).map { _ in IOBuffer(capacity: Self.blockSize) }

        var seen: [UInt64: Int] = [:]
        var wrongRes: [String] = []
        var leftOver = 0
        for round in 0..<rounds {
            // Even rounds write (block k gets pattern k), odd rounds read the same blocks back and check them.
            let write = round % 2 == 0
            let firstBlock = (round / 2 * perRound) % blocks
            for i in 0..<perRound {
                let block = firstBlock + i
                if write { pattern(block: block, into: buffers[i].pointer, length: Self.blockSize) }
                else { buffers[i].pointer.initializeMemory(as: UInt8.self, repeating: 0, count: Self.blockSize) }
                let cb = (iocbs + i * iocbSize).assumingMemoryBound(to: iocb.self)
                cshims_io_prep(cb, write ? 1 : 0, device.fd, buffers[i].pointer, Self.blockSize,
                               Int64(block * Self.blockSize), 0, -1, UInt64(round * perRound + i))
                pointers[i] = cb
            }
            var submitted = 0
            for _ in 0..<1000 where submitted < perRound {
                let n = cshims_io_submit(ctx, perRound - submitted, pointers + submitted)
                if n == -EINTR || n == -EAGAIN { continue }
                guard n > 0 else { break }
                submitted += Int(n)
            }
            #expect(submitted == perRound, "round \(round): io_submit took \(submitted)")
            // Drain, bounded: at most 100 000 polls with 100 µs sleeps in between.
            var got = 0
            for _ in 0..<100_000 where got < submitted {
                let n = cshims_io_getevents_user(ctx, perRound, events)
                if n == -EINTR { continue }
                #expect(n >= 0, "cshims_io_getevents_user: \(n)")
                if n < 0 { break }
                if n == 0 { usleep(100); continue }
                for k in 0..<Int(n) {
                    let tag = cshims_io_event_tag(events + k)
                    seen[tag, default: 0] += 1
                    let res = cshims_io_event_res(events + k)
                    if res != Int64(Self.blockSize) { wrongRes.append("tag \(tag): res \(res)") }
                }
                got += Int(n)
            }
            #expect(got == submitted, "round \(round): \(got) of \(submitted) completions")
            // The kernel's view: nothing left to reap (the user-space head was stored).
            leftOver += Int(max(0, cshims_io_getevents_nowait(ctx, perRound, events)))
            if !write {
                for i in 0..<perRound {
                    let expected = IOBuffer(capacity: Self.blockSize)
                    pattern(block: firstBlock + i, into: expected.pointer, length: Self.blockSize)
                    #expect(bytes(buffers[i], Self.blockSize) == bytes(expected, Self.blockSize),
                            "round \(round): block \(firstBlock + i) read back wrong")
                }
            }
        }
        let expectedTags = Set((0..<(rounds * perRound)).map(UInt64.init))
        #expect(Set(seen.keys) == expectedTags)
        let duplicates = seen.filter { $0.value != 1 }.map(\.key).sorted()
        #expect(duplicates.isEmpty, "tags seen more than once: \(duplicates.prefix(10))")
        #expect(wrongRes.isEmpty, "\(wrongRes.prefix(10))")
        #expect(leftOver == 0, "io_getevents found \(leftOver) events the user-space reaper had already taken")
    }
}

private final class OpsBox: @unchecked Sendable {
    let ops: [BlockOp]
    init(_ o: [BlockOp]) { ops = o }
}

private final class BuffersBox: @unchecked Sendable {
    let buffers: [IOBuffer]
    init(_ b: [IOBuffer]) { buffers = b }
}
