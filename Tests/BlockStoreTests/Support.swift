@testable import BlockStore
import Glibc
import LinuxIO
import Synchronization

typealias IOResultValue = Result<Int, SystemError>

/// A started loop with an engine on it.
final class Harness: @unchecked Sendable {
    let loop: EventLoop
    let engine: IOEngine

    init(workerThreads: Int = 2, maxInFlight: Int = 64) throws {
        loop = try EventLoop(name: "bs-test")
        engine = try IOEngine(loop: loop, workerThreads: workerThreads, maxInFlight: maxInFlight)
        try loop.start()
    }

    /// Runs `body` on the loop and waits for `done`.
    @discardableResult
    func onLoop<T: Sendable>(_ body: @escaping @Sendable (_ engine: IOEngine, _ done: @escaping @Sendable (T) -> Void) -> Void) async -> T {
        await withCheckedContinuation { (c: CheckedContinuation<T, Never>) in
            let once = Mutex(false)
            loop.execute { [engine] in
                body(engine) { value in
                    if once.withLock({ f -> Bool in defer { f = true }; return !f }) { c.resume(returning: value) }
                }
            }
        }
    }

    /// Submits one request and returns its result.
    func run(_ request: IORequest, on device: BackingDevice) async -> IOResultValue {
        let box = RequestBox(request)
        return await onLoop { engine, done in
            engine.submit(box.request, on: device) { done($0) }
        }
    }

    /// Submits all requests in one loop turn and returns their results in submission order.
    func runAll(_ requests: [IORequest], on device: BackingDevice) async -> [IOResultValue] {
        let box = RequestsBox(requests)
        return await onLoop { engine, done in
            var results = [IOResultValue?](repeating: nil, count: box.requests.count)
            var remaining = box.requests.count
            if remaining == 0 { done([]) }
            for (i, r) in box.requests.enumerated() {
                engine.submit(r, on: device) { result in
                    results[i] = result
                    remaining -= 1
                    if remaining == 0 { done(results.compactMap { $0 }) }
                }
            }
        }
    }

    var statistics: IOEngine.Statistics {
        get async { await onLoop { engine, done in done(engine.statistics) } }
    }

    func shutdown() async {
        await onLoop { (engine, done: @escaping @Sendable (Bool) -> Void) in
            engine.close()
            done(true)
        }
        loop.stop()
        loop.waitUntilStopped()
    }
}

final class RequestBox: @unchecked Sendable {
    let request: IORequest
    init(_ r: IORequest) { request = r }
}

final class RequestsBox: @unchecked Sendable {
    let requests: [IORequest]
    init(_ r: [IORequest]) { requests = r }
}

/// A temporary file of `size` bytes under `directory`, removed by `remove()`.
struct TempFile {
    let path: String
    init(directory: String = "/tmp", size: Int, pattern: UInt8? = nil) throws {
        var template = Array("\(directory)/blockstore-test-XXXXXX".utf8CString)
        let fd = mkstemp(&template)
        guard fd >= 0 else { throw SystemError(errno: errno, call: "mkstemp") }
        path = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        if let pattern {
            let bytes = [UInt8](repeating: pattern, count: size)
            _ = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        } else {
            _ = ftruncate(fd, off_t(size))
        }
        close(fd)
    }
    func remove() { unlink(path) }
}

/// Opens `path` with O_DIRECT; nil (with the reason printed) when this filesystem refuses it.
func openDirectOrSkip(_ path: String, readOnly: Bool = false) throws -> BackingDevice? {
    let device = try BackingDevice.open(path: path, readOnly: readOnly, direct: true)
    if !device.isDirect {
        print("skipping O_DIRECT test: \(device.directFallbackReason ?? "O_DIRECT unavailable")")
        return nil
    }
    return device
}

func fill(_ buffer: IOBuffer, length: Int, seed: UInt8) {
    for i in 0..<length { buffer.pointer.storeBytes(of: seed &+ UInt8(truncatingIfNeeded: i / 512), toByteOffset: i, as: UInt8.self) }
}

func bytes(_ buffer: IOBuffer, _ length: Int) -> [UInt8] {
    Array(UnsafeRawBufferPointer(start: buffer.pointer, count: length))
}
