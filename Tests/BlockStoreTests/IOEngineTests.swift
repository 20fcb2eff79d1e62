@testable import BlockStore
import Glibc
import LinuxIO
import Synchronization
import Testing

@Suite(.serialized) struct IOEngineTests {
    // MARK: null

    @Test func nullReadsZeroFillAndNothingCompletesInsideSubmit() async throws {
        let h = try Harness()
        let device = BackingDevice.null(sizeInBytes: 1 << 20)
        let buffer = IOBuffer(capacity: 8192)
        buffer.pointer.initializeMemory(as: UInt8.self, repeating: 0xAA, count: 8192)
        let outcome: [String] = await h.onLoop { engine, done in
            var log: [String] = []
            var left = 3
            func record(_ s: String) { log.append(s); left -= 1; if left == 0 { done(log) } }
            engine.submit(.read(offset: 4096, length: 8192, into: buffer.pointer), on: device) { r in record("read \(r)") }
            engine.submit(.write(offset: 0, length: 512, from: buffer.pointer), on: device) { r in record("write \(r)") }
            engine.submit(.flush, on: device) { r in record("flush \(r)") }
            log.append("submit returned")
        }
        #expect(outcome == ["submit returned", "read success(8192)", "write success(512)", "flush success(0)"])
        #expect(bytes(buffer, 8192).allSatisfy { $0 == 0 })
        #expect(device.kind == .null && device.logicalBlockSize == 512 && device.path == nil)
        await h.shutdown()
    }

    @Test func invalidRequestsAreReportedNotLost() async throws {
        let h = try Harness()
        let device = BackingDevice.null(sizeInBytes: 1 << 20)
        let ro = BackingDevice(path: nil, kind: .null, size: 1 << 20, logicalBlockSize: 512, fd: -1, bufferedFD: -1,
                               isDirect: false, readOnly: true, directFallbackReason: nil)
        let buffer = IOBuffer(capacity: 4096)
        let results = await h.runAll([
            .read(offset: (1 << 20) - 512, length: 1024, into: buffer.pointer),     // past the end
            .read(offset: UInt64.max - 100, length: 4096, into: buffer.pointer),    // offset + length overflows
            IORequest(op: .read, offset: 0, length: -1, buffer: buffer.pointer),    // negative length
            IORequest(op: .write, offset: 0, length: 512, buffer: nil),             // no buffer
            .read(offset: 0, length: 0, into: buffer.pointer),                      // empty: fine
        ], on: device)
        #expect(results.count == 5)
        #expect(results[0] == .failure(SystemError(errno: EINVAL, call: "submit(read)")))
        #expect(results[1] == .failure(SystemError(errno: EINVAL, call: "submit(read)")))
        #expect(results[2] == .failure(SystemError(errno: EINVAL, call: "submit(read)")))
        #expect(results[3] == .failure(SystemError(errno: EINVAL, call: "submit(write)")))
        #expect(results[4] == .success(0))
        let roResult = await h.run(.write(offset: 0, length: 512, from: buffer.pointer), on: ro)
        #expect(roResult == .failure(SystemError(errno: EROFS, call: "submit(write)")))
        await h.shutdown()
    }

    // MARK: buffered (fileio)

    @Test func bufferedFileWriteReadBackFuaAndFlush() async throws {
        let file = try TempFile(size: 1 << 20)
        defer { file.remove() }
        let device = try BackingDevice.open(path: file.path, readOnly: false, direct: false)
        #expect(device.kind == .file && !device.isDirect && device.sizeInBytes == 1 << 20)
        #expect(device.logicalBlockSize == 512)
        let h = try Harness()
        let out = IOBuffer(capacity: 3 * 4096), back = IOBuffer(capacity: 3 * 4096)
        fill(out, length: 3 * 4096, seed: 7)
        #expect(await h.run(.write(offset: 8192, length: 3 * 4096, from: out.pointer), on: device) == .success(3 * 4096))
        #expect(await h.run(.write(offset: 65536, length: 512, from: out.pointer, fua: true), on: device) == .success(512))
        #expect(await h.run(.flush, on: device) == .success(0))
        // A flush ignores offset/length/buffer, even absurd ones.
        #expect(await h.run(IORequest(op: .flush, offset: .max, length: -5, buffer: nil), on: device) == .success(0))
        #expect(await h.run(.read(offset: 8192, length: 3 * 4096, into: back.pointer), on: device) == .success(3 * 4096))
        #expect(bytes(back, 3 * 4096) == bytes(out, 3 * 4096))
        // Odd offsets and lengths are fine on the buffered path.
        #expect(await h.run(.read(offset: 8192 + 13, length: 1001, into: back.pointer + 3), on: device) == .success(1001))
        #expect(Array(bytes(back, 1004)[3...]) == Array(bytes(out, 1014)[13...]))
        let stats = await h.statistics
        #expect(stats.inlineCompleted >= 1, "page-cache hits should finish inline with RWF_NOWAIT: \(stats)")
        #expect(stats.poolSubmitted >= 2, "FUA write and flush use the worker pool: \(stats)")
        #expect(stats.completed == stats.submitted)
        await h.shutdown()
    }

    @Test func backingFilesAreOpenedWithoutAtimeUpdates() throws {
        let file = try TempFile(size: 64 * 1024)
        defer { file.remove() }
        let device = try BackingDevice.open(path: file.path, readOnly: false, direct: false)
        // O_NOATIME (0o1000000): reads of a LUN do not dirty the backing inode. We own the file, so the
        // open must not have fallen back to plain flags.
        let noatime: Int32 = 0o1000000
        #expect(fcntl(device.fd, F_GETFL) & noatime != 0)
        #expect(fcntl(device.bufferedFD, F_GETFL) & noatime != 0)
    }

    @Test func bufferedReadPastTheCurrentEndOfFileIsEIO() async throws {
        let file = try TempFile(size: 64 * 1024, pattern: 1)
        defer { file.remove() }
        let device = try BackingDevice.open(path: file.path, readOnly: true, direct: false)
        #expect(truncate(file.path, 16 * 1024) == 0)  // shrinks behind the device's back
        let h = try Harness()
        let buffer = IOBuffer(capacity: 8192)
        let result = await h.run(.read(offset: 12 * 1024, length: 8192, into: buffer.pointer), on: device)
        #expect(result == .failure(SystemError(errno: EIO, call: "pread(short)")))
        await h.shutdown()
    }

    @Test func workerPoolReportsBadDescriptorErrors() async throws {
        let device = BackingDevice(path: nil, kind: .file, size: 1 << 20, logicalBlockSize: 512, fd: 9999,
                                   bufferedFD: 9999, isDirect: false, readOnly: false, directFallbackReason: nil)
        let h = try Harness()
        let buffer = IOBuffer(capacity: 4096)
        let results = await h.runAll([
            .read(offset: 0, length: 4096, into: buffer.pointer),
            .write(offset: 0, length: 4096, from: buffer.pointer, fua: true),
            .flush,
        ], on: device)
        #expect(results.count == 3)
        #expect(results.allSatisfy { (try? $0.get()) == nil })
        if case .failure(let e) = results[0] { #expect(e.errno == EBADF) }
        if case .failure(let e) = results[2] { #expect(e == SystemError(errno: EBADF, call: "fdatasync")) }
        await h.shutdown()
    }

    // MARK: direct (blockio, libaio)

    @Test(arguments: ["/tmp", "/dev/shm"])
    func directWritesInOneTurnGoOutInOneIoSubmit(directory: String) async throws {
        let file = try TempFile(directory: directory, size: 1 << 20)
        defer { file.remove() }
        guard let device = try openDirectOrSkip(file.path) else { return }
        let h = try Harness(maxInFlight: 64)
        let count = 32
        let buffers = (0..<count).map { i -> IOBuffer in
            let b = IOBuffer(capacity: 4096)
            fill(b, length: 4096, seed: UInt8(i))
            return b
        }
        let writes = (0..<count).map { IORequest.write(offset: UInt64($0) * 4096, length: 4096, from: buffers[$0].pointer) }
        let written = await h.runAll(writes, on: device)
        #expect(written == Array(repeating: .success(4096), count: count))
        let stats = await h.statistics
        #expect(stats.ioSubmitCalls == 1, "\(stats)")
        #expect(stats.aioSubmitted == count)
        #expect(stats.poolSubmitted == 0)

        let back = (0..<count).map { _ in IOBuffer(capacity: 4096) }
        let reads = (0..<count).map { IORequest.read(offset: UInt64($0) * 4096, length: 4096, into: back[$0].pointer) }
        #expect(await h.runAll(reads, on: device) == Array(repeating: .success(4096), count: count))
        for i in 0..<count { #expect(bytes(back[i], 4096) == bytes(buffers[i], 4096)) }
        await h.shutdown()
    }

    @Test func directInFlightIsCappedAndTheWaitQueueDrains() async throws {
        let file = try TempFile(size: 1 << 20)
        defer { file.remove() }
        guard let device = try openDirectOrSkip(file.path) else { return }
        let h = try Harness(maxInFlight: 8)
        let buffers = (0..<100).map { i -> IOBuffer in
            let b = IOBuffer(capacity: 4096); fill(b, length: 4096, seed: UInt8(i)); return b
        }
        let writes = (0..<100).map { IORequest.write(offset: UInt64($0 % 256) * 4096, length: 4096, from: buffers[$0].pointer) }
        #expect(await h.runAll(writes, on: device) == Array(repeating: .success(4096), count: 100))
        let stats = await h.statistics
        #expect(stats.maxAIOInFlight <= 8 && stats.maxAIOInFlight >= 1, "\(stats)")
        #expect(stats.aioSubmitted == 100)
        let back = IOBuffer(capacity: 4096)
        #expect(await h.run(.read(offset: 99 * 4096, length: 4096, into: back.pointer), on: device) == .success(4096))
        #expect(bytes(back, 4096) == bytes(buffers[99], 4096))
        await h.shutdown()
    }

    @Test func partialIoSubmitKeepsTheRestQueued() async throws {
        let file = try TempFile(size: 1 << 20)
        defer { file.remove() }
        guard let device = try openDirectOrSkip(file.path) else { return }
        let h = try Harness(maxInFlight: 64)
        // The kernel takes one iocb per call.
        await h.onLoop { (engine, done: @escaping @Sendable (Bool) -> Void) in
            engine.aio?.submitHook = { ctx, n, iocbs in AIOQueue.kernelSubmit(ctx, min(n, 1), iocbs) }
            done(true)
        }
        let buffers = (0..<10).map { i -> IOBuffer in
            let b = IOBuffer(capacity: 4096); fill(b, length: 4096, seed: UInt8(100 + i)); return b
        }
        let writes = (0..<10).map { IORequest.write(offset: UInt64($0) * 4096, length: 4096, from: buffers[$0].pointer) }
        #expect(await h.runAll(writes, on: device) == Array(repeating: .success(4096), count: 10))
        let stats = await h.statistics
        #expect(stats.partialSubmits >= 1 && stats.aioSubmitted == 10, "\(stats)")
        let back = IOBuffer(capacity: 10 * 4096)
        #expect(await h.run(.read(offset: 0, length: 10 * 4096, into: back.pointer), on: device) == .success(10 * 4096))
        for i in 0..<10 { #expect(Array(bytes(back, 10 * 4096)[(i * 4096)..<((i + 1) * 4096)]) == bytes(buffers[i], 4096)) }
        await h.shutdown()
    }

    @Test func eagainFromIoSubmitIsRetriedNotLost() async throws {
        let file = try TempFile(size: 1 << 20)
        defer { file.remove() }
        guard let device = try openDirectOrSkip(file.path) else { return }
        let h = try Harness(maxInFlight: 64)
        await h.onLoop { (engine, done: @escaping @Sendable (Bool) -> Void) in
            var refusals = 3
            engine.aio?.submitHook = { ctx, n, iocbs in
                if refusals > 0 { refusals -= 1; return -EAGAIN }
                return AIOQueue.kernelSubmit(ctx, n, iocbs)
            }
            done(true)
        }
        let buffer = IOBuffer(capacity: 4096)
        let reads = (0..<5).map { IORequest.read(offset: UInt64($0) * 4096, length: 4096, into: buffer.pointer) }
        #expect(await h.runAll(reads, on: device) == Array(repeating: .success(4096), count: 5))
        let stats = await h.statistics
        #expect(stats.eagainSubmits == 3, "\(stats)")
        await h.shutdown()
    }

    @Test func directErrorsAreReported() async throws {
        let file = try TempFile(size: 64 * 1024, pattern: 3)
        defer { file.remove() }
        guard let device = try openDirectOrSkip(file.path, readOnly: true) else { return }
        #expect(device.readOnly)
        #expect(truncate(file.path, 16 * 1024) == 0)
        let h = try Harness()
        let buffer = IOBuffer(capacity: 8192)
        // Past the (new) end: res 0 or a short count → EIO.
        let short = await h.run(.read(offset: 12 * 1024, length: 8192, into: buffer.pointer), on: device)
        #expect(short == .failure(SystemError(errno: EIO, call: "io_submit(pread)(short)")))
        // A bad fd: io_submit rejects the first iocb with -EBADF, which is reported (and the rest still run).
        let bad = BackingDevice(path: nil, kind: .file, size: 1 << 20, logicalBlockSize: 512, fd: 9998,
                                bufferedFD: 9998, isDirect: true, readOnly: false, directFallbackReason: nil)
        let results = await h.runAll([
            .read(offset: 0, length: 4096, into: buffer.pointer),
        ], on: bad)
        #expect(results == [.failure(SystemError(errno: EBADF, call: "io_submit(pread)"))])
        let good = await h.run(.read(offset: 0, length: 4096, into: buffer.pointer), on: device)
        #expect(good == .success(4096))
        #expect(bytes(buffer, 4096).allSatisfy { $0 == 3 })
        await h.shutdown()
    }

    @Test func misalignedRequestsOnADirectDeviceUseTheBufferedFd() async throws {
        let file = try TempFile(size: 1 << 20)
        defer { file.remove() }
        guard let device = try openDirectOrSkip(file.path) else { return }
        let h = try Harness()
        let out = IOBuffer(capacity: 8192)
        fill(out, length: 8192, seed: 42)
        #expect(await h.run(.write(offset: 0, length: 8192, from: out.pointer), on: device) == .success(8192))
        let back = IOBuffer(capacity: 8192)
        #expect(await h.run(.read(offset: 515, length: 1000, into: back.pointer + 1), on: device) == .success(1000))
        #expect(Array(bytes(back, 1001)[1...]) == Array(bytes(out, 1515)[515...]))
        // A misaligned write, then an aligned (direct) read sees it.
        #expect(await h.run(.write(offset: 4096 + 7, length: 9, from: out.pointer + 4096 * 0 + 100), on: device) == .success(9))
        #expect(await h.run(.read(offset: 4096, length: 4096, into: back.pointer), on: device) == .success(4096))
        #expect(Array(bytes(back, 16)[7..<16]) == Array(bytes(out, 109)[100..<109]))
        let stats = await h.statistics
        #expect(stats.poolSubmitted == 2 && stats.aioSubmitted == 2, "\(stats)")
        await h.shutdown()
    }

    @Test func directFilesUseTheFilesystemsAlignmentNotThePageSize() async throws {
        // /tmp here is ext4 (statx STATX_DIOALIGN reports it), /dev/shm is tmpfs (not reported: probe read).
        for directory in ["/tmp", "/dev/shm"] {
            guard access(directory, W_OK) == 0 else { print("skipping \(directory): not writable"); continue }
            let file = try TempFile(directory: directory, size: 1 << 20)
            defer { file.remove() }
            guard let device = try openDirectOrSkip(file.path) else { continue }
            let a = device.directAlignment
            print("O_DIRECT alignment in \(directory): \(a)")
            #expect(a >= 1 && a & (a - 1) == 0, "power of two: \(a)")
            // A random 4K read of a 512-byte-block LUN starts at a 512-byte boundary: when the filesystem allows
            // it, it takes the AIO path, not the worker pool.
            let h = try Harness()
            let out = IOBuffer(capacity: 8192), back = IOBuffer(capacity: 4096)
            fill(out, length: 8192, seed: 5)
            #expect(await h.run(.write(offset: 0, length: 8192, from: out.pointer), on: device) == .success(8192))
            #expect(await h.run(.read(offset: 512, length: 4096, into: back.pointer), on: device) == .success(4096))
            #expect(bytes(back, 4096) == Array(bytes(out, 4608)[512...]))
            let stats = await h.statistics
            if a <= 512 {
                #expect(stats.aioSubmitted == 2 && stats.poolSubmitted == 0, "\(directory): \(stats)")
            } else {
                #expect(stats.aioSubmitted == 1 && stats.poolSubmitted == 1, "\(directory): \(stats)")
            }
            await h.shutdown()
        }
    }

    @Test func directFuaWriteAndFlushSucceed() async throws {
        let file = try TempFile(size: 1 << 20)
        defer { file.remove() }
        guard let device = try openDirectOrSkip(file.path) else { return }
        let h = try Harness()
        let out = IOBuffer(capacity: 4096)
        fill(out, length: 4096, seed: 9)
        #expect(await h.run(.write(offset: 4096, length: 4096, from: out.pointer, fua: true), on: device) == .success(4096))
        #expect(await h.run(.flush, on: device) == .success(0))
        print("direct flush/FUA probes on /tmp: \(device.probes.load(ordering: .relaxed)) (4 = no IOCB_CMD_FDSYNC, 8 = no aio RWF_DSYNC)")
        // Again: whichever way the first flush went (IOCB_CMD_FDSYNC or fallback), it is remembered.
        #expect(await h.run(.flush, on: device) == .success(0))
        await h.shutdown()
    }

    @Test func loopBlockDeviceReportsSizeAndBlockSizeAndDoesAIO() async throws {
        let file = try TempFile(size: 8 << 20)
        defer { file.remove() }
        guard let loopPath = shell("losetup --find --show \(file.path) 2>/dev/null"), loopPath.hasPrefix("/dev/loop") else {
            print("skipping loop device test: losetup unavailable")
            return
        }
        defer { _ = shell("losetup -d \(loopPath)") }
        let device = try BackingDevice.open(path: loopPath, readOnly: false, direct: true)
        #expect(device.kind == .blockDevice)
        #expect(device.sizeInBytes == 8 << 20)
        #expect(device.logicalBlockSize == 512)
        #expect(device.isDirect)
        let h = try Harness()
        let out = IOBuffer(capacity: 4096), back = IOBuffer(capacity: 4096)
        fill(out, length: 4096, seed: 77)
        #expect(await h.run(.write(offset: 512 * 9, length: 4096, from: out.pointer, fua: true), on: device) == .success(4096))
        #expect(await h.run(.read(offset: 512 * 9, length: 4096, into: back.pointer), on: device) == .success(4096))
        #expect(bytes(back, 4096) == bytes(out, 4096))
        #expect(await h.run(.flush, on: device) == .success(0))
        let stats = await h.statistics
        #expect(stats.aioSubmitted >= 2, "\(stats)")
        await h.shutdown()
    }

    /// A 4 KiB-sector block device (a 4Kn disk; here a loop device with --sector-size 4096) under 512-byte LUN
    /// blocks: requests inside a device block go through the buffered fd (the kernel's read-modify-write), whole
    /// device blocks through libaio, and a discard zeroes the partial device blocks at its ends and punches the
    /// aligned middle (a block device's fallocate takes whole logical blocks only).
    @Test func fourKSectorDeviceServesPartialBlocksAndDiscardsTheirEdges() async throws {
        let file = try TempFile(size: 1 << 20)
        defer { file.remove() }
        guard let loopPath = shell("losetup --direct-io=on --sector-size 4096 --find --show \(file.path) 2>/dev/null"),
              loopPath.hasPrefix("/dev/loop") else {
            print("skipping 4 KiB-sector test: losetup --sector-size 4096 unavailable (needs root and loop devices)")
            return
        }
        defer { _ = shell("losetup -d \(loopPath)") }
        let device = try BackingDevice.open(path: loopPath, readOnly: false, direct: true)
        #expect(device.logicalBlockSize == 4096 && device.directAlignment == 4096 && device.isDirect)
        let h = try Harness()
        let out = IOBuffer(capacity: 16384), back = IOBuffer(capacity: 16384)
        fill(out, length: 16384, seed: 21)
        #expect(await h.run(.write(offset: 0, length: 16384, from: out.pointer), on: device) == .success(16384))
        // One 512-byte block inside device block 1, written and read back both ways.
        let small = IOBuffer(capacity: 512)
        fill(small, length: 512, seed: 200)
        #expect(await h.run(.write(offset: 4096 + 1024, length: 512, from: small.pointer, fua: true), on: device) == .success(512))
        #expect(await h.run(.read(offset: 4096, length: 4096, into: back.pointer), on: device) == .success(4096))
        var expected = Array(bytes(out, 16384)[4096..<8192])
        expected.replaceSubrange(1024..<1536, with: bytes(small, 512))
        #expect(bytes(back, 4096) == expected)
        #expect(await h.run(.read(offset: 4096 + 512, length: 1536, into: back.pointer), on: device) == .success(1536))
        #expect(bytes(back, 1536) == Array(expected[512..<2048]))
        // Discard [512, 12800): zeros there, the rest of the 16 KiB untouched; the whole device blocks in the
        // middle are deallocated (the loop device punches them out of its backing file).
        var before = stat(), after = stat()
        _ = stat(file.path, &before)
        #expect(await h.run(.discard(offset: 512, length: 12288), on: device) == .success(12288))
        _ = stat(file.path, &after)
        #expect(after.st_blocks < before.st_blocks, "allocated 512-byte units \(before.st_blocks) → \(after.st_blocks)")
        #expect(await h.run(.read(offset: 0, length: 16384, into: back.pointer), on: device) == .success(16384))
        var whole = bytes(out, 16384)
        whole.replaceSubrange((4096 + 1024)..<(4096 + 1536), with: bytes(small, 512))
        whole.replaceSubrange(512..<12800, with: [UInt8](repeating: 0, count: 12288))
        #expect(bytes(back, 16384) == whole)
        let stats = await h.statistics
        #expect(stats.poolSubmitted >= 3 && stats.aioSubmitted >= 3, "\(stats)")
        await h.shutdown()
    }

    @Test func openRejectsThingsThatAreNotFilesOrBlockDevices() {
        #expect(throws: SystemError(errno: EINVAL, call: "fstat")) {
            _ = try BackingDevice.open(path: "/tmp", readOnly: true, direct: false)
        }
        #expect(throws: SystemError(errno: ENOENT, call: "open")) {
            _ = try BackingDevice.open(path: "/nonexistent/lun0", readOnly: true, direct: false)
        }
    }
}

/// Runs a shell command and returns its first output line (tests only).
func shell(_ command: String) -> String? {
    guard let pipe = popen(command, "r") else { return nil }
    var line = [CChar](repeating: 0, count: 4096)
    let got = fgets(&line, Int32(line.count), pipe) != nil
    let status = pclose(pipe)
    guard got, status == 0 else { return nil }
    return String(decoding: line.prefix { $0 != 0 && $0 != 10 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
