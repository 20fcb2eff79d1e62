#if canImport(Glibc)
import Glibc
#endif

/// The daemon's default control socket (`iscsi-targetd --control-socket`).
let defaultControlSocket = "/run/iscsi-targetd/control.sock"

/// Exit statuses of the commands that talk to the daemon.
enum AdmExit {
    /// The daemon refused the request (`ERR ...`).
    static let refused: Int32 = 1
    /// Bad command line (as ArgumentParser's validation failures).
    static let usage: Int32 = 64
    /// The daemon could not be reached (sysexits EX_UNAVAILABLE).
    static let unreachable: Int32 = 69
    /// The daemon sent something that is not a reply (sysexits EX_PROTOCOL).
    static let protocolError: Int32 = 76
}

/// A decoded reply: `OK` + output, or `ERR message` (+ more lines of the message).
enum ControlReply: Equatable {
    case ok(String)
    case error(String)

    /// Parses the reply text (first line `OK` or `ERR <message>`).
    static func parse(_ text: String) -> ControlReply? {
        let firstEnd = text.firstIndex(of: "\n") ?? text.endIndex
        let first = text[..<firstEnd]
        let rest = firstEnd < text.endIndex ? String(text[text.index(after: firstEnd)...]) : ""
        if first == "OK" { return .ok(rest) }
        if first.hasPrefix("ERR") {
            let message = first.dropFirst(3).drop { $0 == " " }
            return .error(String(message) + (rest.isEmpty ? "" : "\n" + rest))
        }
        return nil
    }
}

/// The word encoding of control requests (the daemon's `ControlWords.decode` reverses it): words
/// joined by one space; `%`, space and control bytes inside a word become `%XX`; the empty word is `%00`.
enum RequestEncoding {
    static func encode(_ words: [String]) -> String {
        words.map(encodeWord).joined(separator: " ")
    }

    static func encodeWord(_ word: String) -> String {
        if word.isEmpty { return "%00" }
        var bytes: [UInt8] = []
        for byte in word.utf8 {
            if byte <= 0x20 || byte == 0x25 || byte == 0x7f {
                bytes.append(0x25)
                let hex = Array(String(byte, radix: 16, uppercase: true).utf8)
                if hex.count < 2 { bytes.append(0x30) }
                bytes.append(contentsOf: hex)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

struct ControlClientError: Error, CustomStringConvertible {
    var description: String
    var exitCode: Int32
}

/// One request/reply exchange on the daemon's Unix control socket.
enum ControlClient {
    /// Replies are bounded so a confused peer cannot make us allocate without limit.
    static let maxReplyBytes = 64 << 20

    static func request(_ words: [String], socketPath: String, timeoutSeconds: Int = 60) throws(ControlClientError) -> ControlReply {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw ControlClientError(description: "socket: \(errnoText())", exitCode: AdmExit.unreachable) }
        defer { close(fd) }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let path = Array(socketPath.utf8)
        guard path.count < MemoryLayout.size(ofValue: addr.sun_path) else {
            throw ControlClientError(description: "control socket path too long: \(socketPath)", exitCode: AdmExit.usage)
        }
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in for (i, b) in path.enumerated() { raw[i] = b } }
        let rc = withUnsafePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard rc == 0 else {
            let hint = errno == EACCES ? " (the control socket is root-only)" : " (is iscsi-targetd running? see --control-socket)"
            throw ControlClientError(description: "cannot connect to \(socketPath): \(errnoText())\(hint)", exitCode: AdmExit.unreachable)
        }
        var tv = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        let line = Array((RequestEncoding.encode(words) + "\n").utf8)
        var off = 0
        while off < line.count {
            let n = line[off...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw ControlClientError(description: "send: \(errnoText())", exitCode: AdmExit.unreachable) }
            off += n
        }
        var reply: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while reply.count < maxReplyBytes {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 && errno == EINTR { continue }
            if n < 0 {
                let timedOut = errno == EAGAIN || errno == EWOULDBLOCK
                throw ControlClientError(description: timedOut ? "no reply from the daemon within \(timeoutSeconds) s" : "recv: \(errnoText())",
                                         exitCode: AdmExit.unreachable)
            }
            if n == 0 { break }
            reply.append(contentsOf: chunk[0..<n])
        }
        guard let parsed = ControlReply.parse(String(decoding: reply, as: UTF8.self)) else {
            throw ControlClientError(description: "unexpected reply from the daemon", exitCode: AdmExit.protocolError)
        }
        return parsed
    }

    static func errnoText() -> String { String(cString: strerror(errno)) }

    /// Sends the request, prints the output (stdout) or the error (stderr) and returns the exit status.
    static func run(_ words: [String], socketPath: String) -> Int32 {
        do {
            switch try request(words, socketPath: socketPath) {
            case .ok(let output):
                writeOut(output)
                return 0
            case .error(let message):
                printError("iscsi-targetadm: \(message)\(message.hasSuffix("\n") ? "" : "\n")")
                return AdmExit.refused
            }
        } catch {
            printError("iscsi-targetadm: \(error.description)\n")
            return error.exitCode
        }
    }
}

/// Writes to standard output without Foundation buffering surprises.
func writeOut(_ text: String) {
    var bytes = Array(text.utf8)[...]
    while !bytes.isEmpty {
        let written = bytes.withUnsafeBytes { write(STDOUT_FILENO, $0.baseAddress, $0.count) }
        if written < 0 {
            if errno == EINTR { continue }
            return
        }
        bytes = bytes.dropFirst(written)
    }
}
