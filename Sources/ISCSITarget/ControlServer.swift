import Glibc
import IETConfig
import ISCSINegotiation
import Logging
import SCSICommands
import Synchronization

/// The admin control socket (`iscsi-targetadm` talks to it): a root-only Unix stream socket served
/// by one dedicated thread, so that admin requests never touch the I/O loops' latency.
///
/// Protocol: the client sends one line `COMMAND [ARG...]` and reads the reply until EOF. The first
/// reply line is `OK` or `ERR <message>`; the rest is the command's output.
public final class ControlServer: Sendable {
    public typealias ReloadHandler = @Sendable (_ force: Bool) -> (ok: Bool, message: String)
    private let path: String
    private let fd: Int32
    private let registry: TargetRegistry
    private let reload: ReloadHandler
    private let logger: Logger
    private let stopped = Mutex(false)

    public init(path: String, registry: TargetRegistry, logger: Logger, reload: @escaping ReloadHandler) throws {
        self.path = path
        self.registry = registry
        self.reload = reload
        self.logger = logger
        // Parent directory (e.g. /run/iscsi-targetd) owned by root, mode 0700.
        if let slash = path.lastIndex(of: "/"), slash != path.startIndex {
            let dir = String(path[..<slash])
            _ = mkdir(dir, 0o700)
        }
        _ = unlink(path)
        let s = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard s >= 0 else { throw RuntimeError("control socket: \(String(cString: strerror(errno)))") }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else {
            Glibc.close(s)
            throw RuntimeError("control socket path too long: \(path)")
        }
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in for (i, b) in bytes.enumerated() { raw[i] = b } }
        let oldMask = umask(0o077)
        let rc = withUnsafePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(s, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        umask(oldMask)
        guard rc == 0, Glibc.listen(s, 16) == 0 else {
            let e = String(cString: strerror(errno))
            Glibc.close(s)
            throw RuntimeError("control socket \(path): \(e)")
        }
        chmod(path, 0o600)
        fd = s
    }

    /// Serves requests on a new thread until `stop()`.
    public func start() {
        let box = Handoff(self)
        var thread = pthread_t()
        let ctx = Unmanaged.passRetained(ThreadBox { box.value.serve() }).toOpaque()
        pthread_create(&thread, nil, { arg in
            guard let arg else { return nil }
            let b = Unmanaged<ThreadBox>.fromOpaque(arg).takeRetainedValue()
            b.body()
            return nil
        }, ctx)
        pthread_detach(thread)
    }

    public func stop() {
        stopped.withLock { $0 = true }
        shutdown(fd, Int32(SHUT_RDWR))
        Glibc.close(fd)
        _ = unlink(path)
    }

    private func serve() {
        while !stopped.withLock({ $0 }) {
            let c = accept(fd, nil, nil)
            if c < 0 {
                if errno == EINTR || errno == ECONNABORTED { continue }
                return
            }
            _ = fcntl(c, F_SETFD, FD_CLOEXEC)
            var tv = timeval(tv_sec: 5, tv_usec: 0)
            setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
            let line = readLine(c)
            let reply = handle(line ?? "")
            var out = Array(reply.utf8)
            var off = 0
            while off < out.count {
                let n = out[off...].withUnsafeMutableBytes { Glibc.send(c, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                if n <= 0 { break }
                off += n
            }
            out.removeAll()
            Glibc.close(c)
        }
    }

    private func readLine(_ c: Int32) -> String? {
        var bytes: [UInt8] = []
        var b: UInt8 = 0
        // Requests are short; cap them so a stuck client cannot make us allocate.
        while bytes.count < 4096 {
            let n = recv(c, &b, 1, 0)
            if n <= 0 { break }
            if b == UInt8(ascii: "\n") { break }
            bytes.append(b)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Executes one control command and returns the reply text (also used by tests).
    public func handle(_ line: String) -> String {
        var words = line.split(separator: " ").map(String.init)
        let json = words.contains("--json")
        words.removeAll { $0 == "--json" }
        let force = words.contains("--force")
        words.removeAll { $0 == "--force" }
        logger.info("control request", metadata: ["command": "\(words.joined(separator: " "))"])
        switch words.first ?? "" {
        case "ping":
            return "OK\npong\n"
        case "show":
            let what = words.count > 1 ? words[1] : "targets"
            switch what {
            case "targets": return "OK\n" + (json ? ControlFormat.targetsJSON(registry) : ControlFormat.targets(registry))
            case "sessions": return "OK\n" + (json ? ControlFormat.sessionsJSON(registry) : ControlFormat.sessions(registry))
            case "luns", "volumes": return "OK\n" + (json ? ControlFormat.lunsJSON(registry) : ControlFormat.luns(registry))
            case "target":
                guard words.count > 2, let tid = Int(words[2]) else { return "ERR usage: show target TID\n" }
                guard let t = registry.allTargets.first(where: { $0.tid == tid }) else { return "ERR no target with tid \(tid)\n" }
                return "OK\n" + ControlFormat.targetParameters(t)
            default:
                return "ERR unknown object '\(what)' (targets, sessions, luns, target TID)\n"
            }
        case "reload":
            let r = reload(force)
            return r.ok ? "OK\n\(r.message)\n" : "ERR \(r.message)\n"
        default:
            return "ERR unknown command '\(words.first ?? "")'\n"
        }
    }
}

private final class ThreadBox {
    let body: () -> Void
    init(_ body: @escaping () -> Void) { self.body = body }
}

/// Text formats shared with IET's /proc/net/iet files and ietadm.
public enum ControlFormat {
    /// `tid:1 name:iqn...` per target.
    public static func targets(_ r: TargetRegistry) -> String {
        r.allTargets.map { "tid:\($0.tid) name:\($0.name)\n" }.joined()
    }

    /// /proc/net/iet/volume format.
    public static func luns(_ r: TargetRegistry) -> String {
        var out = ""
        for t in r.allTargets {
            out += "tid:\(t.tid) name:\(t.name)\n"
            for lun in t.lunList {
                guard let u = t.units[lun] else { continue }
                out += "\tlun:\(lun) state:0 iotype:\(u.config.type.rawValue) iomode:\(u.config.ioMode.rawValue) blocks:\(u.info.blockCount) blocksize:\(u.info.blockSize) path:\(u.config.path ?? "")\n"
            }
        }
        return out
    }

    /// /proc/net/iet/session format.
    public static func sessions(_ r: TargetRegistry) -> String {
        let sessions = r.sessions
        var out = ""
        for t in r.allTargets {
            out += "tid:\(t.tid) name:\(t.name)\n"
            for s in sessions where s.tid == t.tid {
                out += "\tsid:\(s.sid) initiator:\(s.initiatorName)\n"
                let ip = s.peer.contains(":") ? "[\(s.peer)]" : s.peer
                out += "\t\tcid:0 ip:\(ip) state:active hd:\(s.headerDigest ? "crc32c" : "none") dd:\(s.dataDigest ? "crc32c" : "none")\n"
            }
        }
        return out
    }

    /// `Key=Value` lines like `ietadm --op show --tid=N`.
    public static func targetParameters(_ t: Target) -> String {
        let p = t.policy
        var lines: [(String, String)] = [
            ("Wthreads", "\(t.config.wthreads)"),
            ("Type", "0"),
            ("QueuedCommands", "\(t.queuedCommands ?? 128)"),
            ("NOPInterval", "\(t.config.nopInterval)"),
            ("NOPTimeout", "\(t.config.nopTimeout)"),
            ("MaxSessions", "\(t.config.maxSessions)"),
            ("InitialR2T", p.initialR2T ? "Yes" : "No"),
            ("ImmediateData", p.immediateData ? "Yes" : "No"),
            ("MaxConnections", "\(p.maxConnections)"),
            ("MaxRecvDataSegmentLength", "\(p.maxRecvDataSegmentLength)"),
            ("MaxXmitDataSegmentLength", t.config.iscsiParameters["MaxXmitDataSegmentLength"] ?? "262144"),
            ("MaxBurstLength", "\(p.maxBurstLength)"),
            ("FirstBurstLength", "\(p.firstBurstLength)"),
            ("DefaultTime2Wait", "\(p.defaultTime2Wait)"),
            ("DefaultTime2Retain", "\(p.defaultTime2Retain)"),
            ("MaxOutstandingR2T", "\(p.maxOutstandingR2T)"),
            ("DataPDUInOrder", p.dataPDUInOrder ? "Yes" : "No"),
            ("DataSequenceInOrder", p.dataSequenceInOrder ? "Yes" : "No"),
            ("ErrorRecoveryLevel", "\(p.errorRecoveryLevel)"),
            ("HeaderDigest", p.headerDigest.joined(separator: ",")),
            ("DataDigest", p.dataDigest.joined(separator: ",")),
        ]
        if let alias = t.config.alias { lines.append(("Alias", alias)) }
        return lines.map { "\($0.0)=\($0.1)\n" }.joined()
    }

    static func esc(_ s: String) -> String {
        var o = "\""
        for ch in s.unicodeScalars {
            switch ch {
            case "\"": o += "\\\""
            case "\\": o += "\\\\"
            case "\n": o += "\\n"
            default:
                if ch.value < 0x20 { o += "\\u00" + (ch.value < 16 ? "0" : "") + String(ch.value, radix: 16) } else { o.unicodeScalars.append(ch) }
            }
        }
        return o + "\""
    }

    public static func targetsJSON(_ r: TargetRegistry) -> String {
        "[" + r.allTargets.map { t in
            "{\"tid\":\(t.tid),\"name\":\(esc(t.name)),\"alias\":\(t.config.alias.map(esc) ?? "null"),\"luns\":[\(t.lunList.map(String.init).joined(separator: ","))]}"
        }.joined(separator: ",") + "]\n"
    }

    public static func lunsJSON(_ r: TargetRegistry) -> String {
        var items: [String] = []
        for t in r.allTargets {
            for lun in t.lunList {
                guard let u = t.units[lun] else { continue }
                items.append("{\"tid\":\(t.tid),\"target\":\(esc(t.name)),\"lun\":\(lun),\"iotype\":\(esc(u.config.type.rawValue)),\"iomode\":\(esc(u.config.ioMode.rawValue)),\"blocks\":\(u.info.blockCount),\"blocksize\":\(u.info.blockSize),\"path\":\(u.config.path.map(esc) ?? "null")}")
            }
        }
        return "[" + items.joined(separator: ",") + "]\n"
    }

    public static func sessionsJSON(_ r: TargetRegistry) -> String {
        "[" + r.sessions.map { s in
            "{\"tid\":\(s.tid),\"target\":\(esc(s.targetName)),\"sid\":\(s.sid),\"tsih\":\(s.tsih),\"initiator\":\(esc(s.initiatorName)),\"ip\":\(esc(s.peer)),\"hd\":\(esc(s.headerDigest ? "crc32c" : "none")),\"dd\":\(esc(s.dataDigest ? "crc32c" : "none"))}"
        }.joined(separator: ",") + "]\n"
    }
}
