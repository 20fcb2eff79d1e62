@testable import BlockStore
import Testing

@Suite struct IOBufferPoolTests {
    @Test func buffersArePageAlignedAndRoundedUp() {
        let b = IOBuffer(capacity: 1)
        #expect(Int(bitPattern: b.pointer) % 4096 == 0)
        #expect(b.capacity == 4096)
        #expect(IOBuffer(capacity: 4097).capacity == 8192)
        #expect(IOBuffer(capacity: 0).capacity == 4096)
    }

    @Test func sizeClassesArePowersOfTwoUpTo16MiB() {
        #expect(IOBufferPool.classIndex(0) == 0)
        #expect(IOBufferPool.classIndex(4096) == 0)
        #expect(IOBufferPool.classIndex(4097) == 1)
        #expect(IOBufferPool.classIndex(16 << 20) == 12)
        #expect(IOBufferPool.classIndex((16 << 20) + 1) == nil)
    }

    @Test func givenBuffersAreReusedForTheSameClass() {
        let pool = IOBufferPool(maxCachedBytes: 1 << 20)
        let a = pool.take(capacity: 10_000)
        #expect(a.capacity == 16384)
        let address = a.pointer
        pool.give(a)
        #expect(pool.cachedBytes == 16384)
        let b = pool.take(capacity: 9000)
        #expect(b.pointer == address)
        #expect(pool.cachedBytes == 0)
        // A different class does not take it.
        pool.give(b)
        #expect(pool.take(capacity: 4096).pointer != address)
    }

    @Test func cacheIsBoundedAndOversizedBuffersAreNotCached() {
        let pool = IOBufferPool(maxCachedBytes: 8192)
        pool.give(pool.take(capacity: 4096))
        pool.give(pool.take(capacity: 4096))
        pool.give(IOBuffer(capacity: 4096))
        #expect(pool.cachedBytes == 8192)
        let big = pool.take(capacity: (16 << 20) + 1)
        #expect(big.capacity == (16 << 20) + 4096)
        pool.give(big)
        #expect(pool.cachedBytes == 8192)
        // A non-class capacity (exact oversize) is never cached even with room.
        let roomy = IOBufferPool(maxCachedBytes: 64 << 20)
        roomy.give(IOBuffer(capacity: 12288))
        #expect(roomy.cachedBytes == 0)
    }
}

/// A worker hands a completion back through a `PendingBox` and may drop its reference to the box after the loop
/// ran the completion: `take()` must leave the box empty, so whatever the completion captured (a SCSI task whose
/// deinit touches loop-confined state) is released on the loop thread, never by the worker's last release.
@Test func pendingBoxReleasesItsCompletionWhenTaken() {
    final class Sentinel { let freed: () -> Void; init(_ f: @escaping () -> Void) { freed = f }; deinit { freed() } }
    var freed = false
    var box: PendingBox? = PendingBox({ [s = Sentinel({ freed = true })] _ in _ = s })
    var completion = box?.take()
    #expect(completion != nil)
    #expect(box?.take() == nil)  // once
    completion = nil
    #expect(freed)               // released with the taken closure while the box still exists
    box = nil
    _ = completion
}
