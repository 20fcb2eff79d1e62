@testable import BlockStore
import Glibc
import LinuxIO
import Testing

/// `.discard` (UNMAP / WRITE SAME with UNMAP) and `allocationExtent` (GET LBA STATUS).
@Suite(.serialized) struct DiscardTests {
    @Test func discardReadsBackZerosAndReportsAHole() async throws {
        let file = try TempFile(size: 1 << 20, pattern: 0xA5)
        defer { file.remove() }
        let device = try BackingDevice.open(path: file.path, readOnly: false, direct: false)
        #expect(device.allocationExtent(at: 0)?.mapped == true)
        let h = try Harness()
        #expect(await h.run(.discard(offset: 65536, length: 65536), on: device) == .success(65536))
        // Unaligned edges: the partial blocks are zeroed too (fallocate PUNCH_HOLE semantics).
        #expect(await h.run(.discard(offset: 512, length: 1024), on: device) == .success(1024))
        let back = IOBuffer(capacity: 1 << 20)
        #expect(await h.run(.read(offset: 0, length: 1 << 20, into: back.pointer), on: device) == .success(1 << 20))
        let data = bytes(back, 1 << 20)
        #expect(data[0..<512].allSatisfy { $0 == 0xA5 })
        #expect(data[512..<1536].allSatisfy { $0 == 0 })
        #expect(data[1536..<65536].allSatisfy { $0 == 0xA5 })
        #expect(data[65536..<131072].allSatisfy { $0 == 0 })
        #expect(data[131072...].allSatisfy { $0 == 0xA5 })
        if let hole = device.allocationExtent(at: 65536), !hole.mapped {
            // File systems with hole reporting: exactly the punched 64 KiB.
            #expect(hole.length == 65536)
            #expect(device.allocationExtent(at: 131072)?.mapped == true)
        } else {
            print("SKIP discardReadsBackZerosAndReportsAHole hole reporting: file system reports no holes")
        }
        #expect(device.allocationExtent(at: 1 << 20) == nil)
        await h.shutdown()
    }

    @Test func discardIsRefusedOnReadOnlyAndOutOfRange() async throws {
        let file = try TempFile(size: 65536)
        defer { file.remove() }
        let ro = try BackingDevice.open(path: file.path, readOnly: true, direct: false)
        let rw = try BackingDevice.open(path: file.path, readOnly: false, direct: false)
        let h = try Harness()
        #expect(await h.run(.discard(offset: 0, length: 4096), on: ro) == .failure(SystemError(errno: EROFS, call: "submit(discard)")))
        #expect(await h.run(.discard(offset: 61440, length: 8192), on: rw) == .failure(SystemError(errno: EINVAL, call: "submit(discard)")))
        #expect(await h.run(.discard(offset: .max, length: 1), on: rw) == .failure(SystemError(errno: EINVAL, call: "submit(discard)")))
        await h.shutdown()
    }

    @Test func nullDeviceDiscardSucceedsAndIsMapped() async throws {
        let device = BackingDevice.null(sizeInBytes: 1 << 20)
        let h = try Harness()
        #expect(await h.run(.discard(offset: 0, length: 4096), on: device) == .success(4096))
        #expect(device.allocationExtent(at: 0)?.mapped == false)
        await h.shutdown()
    }
}
