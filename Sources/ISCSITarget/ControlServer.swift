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
    private let server: TargetServer?
    private let reload: ReloadHandler
    private let logger: Logger
    private let stopped = Mutex(false)

    /// - Parameter server: the running server for run-time changes (`target new`, `lun delete`, …);
    ///   without it only `ping`, `show` and `reload` are served.
    public init(path: String, registry: TargetRegistry, logger: Logger, server: TargetServer? = nil,
                reload: @escaping ReloadHandler) throws {
        self.path = path
        self.registry = registry
        self.server = server
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
        let command: ControlCommand
        do {
            command = try ControlCommand.parse(line)
        } catch {
            logger.info("control request rejected", metadata: ["error": "\(error)"])
            return "ERR \(error)\n"
        }
        // One line per request; secrets (user new) are redacted by `logDescription`.
        logger.info("control request", metadata: ["command": "\(command.logDescription)"])
        switch command {
        case .ping:
            return "OK\npong\n"
        case .show(let what, let json):
            switch what {
            case .targets: return "OK\n" + (json ? ControlFormat.targetsJSON(registry) : ControlFormat.targets(registry))
            case .sessions: return "OK\n" + (json ? ControlFormat.sessionsJSON(registry) : ControlFormat.sessions(registry))
            case .luns: return "OK\n" + (json ? ControlFormat.lunsJSON(registry) : ControlFormat.luns(registry))
            case .target(let tid):
                guard let t = registry.allTargets.first(where: { $0.tid == tid }) else { return "ERR no target with tid \(tid)\n" }
                return "OK\n" + ControlFormat.targetParameters(t)
            }
        case .reload(let force):
            let r = server.map { s in s.serializedAdministration { reload(force) } } ?? reload(force)
            return r.ok ? "OK\n\(r.message)\n" : "ERR \(r.message)\n"
        default:
            guard let server else { return "ERR run-time changes are not available on this control socket\n" }
            do throws(AdminFailure) {
                let output = try server.administer(command)
                return "OK\n" + output
            } catch {
                return "ERR \(error.description)\n"
            }
        }
    }
}

/// A request on the control socket, decoded from its one-line wire form.
///
/// Wire form: words separated by single spaces; inside a word `%`, space, and control characters are
/// written as `%XX` (see `ControlWords`). Commands (the ietadm equivalent in brackets):
///
///     ping
///     show targets|sessions|luns [--json]        show target TID          [--op show --tid=N]
///     reload [--force]
///     target new TID NAME                        [--op new --tid=N --params Name=NAME]
///     target delete TID                          [--op delete --tid=N]
///     target update TID KEY=VALUE...             [--op update --tid=N --params=K=V,...]
///     lun new TID LUN PARAMS                     [--op new --tid=N --lun=L --params Path=...]
///     lun delete TID LUN                         [--op delete --tid=N --lun=L]
///     session show TID SID                       [--op show --tid=N --sid=S]
///     conn delete TID SID CID                    [--op delete --tid=N --sid=S --cid=C]
///     user show TID [IncomingUser|OutgoingUser [NAME]]
///     user new TID IncomingUser|OutgoingUser NAME SECRET
///     user delete TID IncomingUser|OutgoingUser NAME      (TID 0 = discovery accounts)
///     redirect TID [ADDRESS]                     [--op update --tid=N --redirect=ADDR]
///     delete-all                                 [--op delete]
public enum ControlCommand: Sendable, Hashable {
    public enum ShowObject: Sendable, Hashable {
        case targets, sessions, luns
        case target(Int)
    }
    public enum AccountKind: String, Sendable, Hashable, CaseIterable {
        case incoming = "IncomingUser"
        case outgoing = "OutgoingUser"

        /// Case-insensitive, as IET matched ietd.conf keywords with strcasecmp.
        public init?(keyword: String) {
            guard let k = Self.allCases.first(where: { $0.rawValue.lowercased() == keyword.lowercased() }) else { return nil }
            self = k
        }
    }
    public struct Parameter: Sendable, Hashable {
        public var key: String
        public var value: String
        public init(key: String, value: String) {
            self.key = key
            self.value = value
        }
    }

    case ping
    case show(ShowObject, json: Bool)
    case reload(force: Bool)
    case targetNew(tid: Int, name: String)
    case targetDelete(tid: Int)
    case targetUpdate(tid: Int, parameters: [Parameter])
    case lunNew(tid: Int, lun: Int, parameters: String)
    case lunDelete(tid: Int, lun: Int)
    case sessionShow(tid: Int, sid: UInt64)
    case connectionDelete(tid: Int, sid: UInt64, cid: Int)
    case userShow(tid: Int, kind: AccountKind?, name: String?)
    case userNew(tid: Int, kind: AccountKind, name: String, secret: String)
    case userDelete(tid: Int, kind: AccountKind, name: String)
    case redirect(tid: Int, address: String)
    case deleteAll

    public struct ParseError: Error, CustomStringConvertible, Hashable {
        public var description: String
        init(_ description: String) { self.description = description }
    }

    /// Decodes one request line. Never traps on any input.
    public static func parse(_ line: String) throws(ParseError) -> ControlCommand {
        var words: [String]
        do {
            words = try ControlWords.decode(line)
        } catch {
            throw ParseError(error.description)
        }
        let json = words.contains("--json")
        words.removeAll { $0 == "--json" }
        let force = words.contains("--force")
        words.removeAll { $0 == "--force" }
        guard let verb = words.first else { throw ParseError("empty request") }
        let args = Array(words.dropFirst())

        func count(_ n: ClosedRange<Int>, _ usage: String) throws(ParseError) {
            guard n.contains(args.count) else { throw ParseError("usage: \(usage)") }
        }
        func tid(_ i: Int) throws(ParseError) -> Int {
            // IET tids are 32-bit; we keep them to a sane positive range.
            guard i < args.count, let v = Int(args[i]), (0...0x7fff_ffff).contains(v) else {
                throw ParseError("invalid tid '\(i < args.count ? args[i] : "")'")
            }
            return v
        }
        func lun(_ i: Int) throws(ParseError) -> Int {
            // IET kernel volume_add: LUN numbers 0...0x3fff.
            guard i < args.count, let v = Int(args[i]), (0...0x3fff).contains(v) else {
                throw ParseError("invalid LUN '\(i < args.count ? args[i] : "")' (0...16383)")
            }
            return v
        }
        func sid(_ i: Int) throws(ParseError) -> UInt64 {
            guard i < args.count, let v = ControlWords.parseUnsigned(args[i]) else {
                throw ParseError("invalid sid '\(i < args.count ? args[i] : "")'")
            }
            return v
        }
        func kind(_ i: Int) throws(ParseError) -> AccountKind {
            guard i < args.count, let k = AccountKind(keyword: args[i]) else {
                throw ParseError("account kind must be IncomingUser or OutgoingUser")
            }
            return k
        }

        switch verb {
        case "ping":
            try count(0...0, "ping")
            return .ping
        case "show":
            switch args.first ?? "targets" {
            case "targets": return .show(.targets, json: json)
            case "sessions": return .show(.sessions, json: json)
            case "luns", "volumes": return .show(.luns, json: json)
            case "target":
                guard args.count == 2, let t = Int(args[1]), t >= 0 else { throw ParseError("usage: show target TID") }
                return .show(.target(t), json: json)
            default:
                throw ParseError("unknown object '\(args[0])' (targets, sessions, luns, target TID)")
            }
        case "reload":
            try count(0...0, "reload [--force]")
            return .reload(force: force)
        case "target":
            switch args.first ?? "" {
            case "new":
                try count(3...3, "target new TID NAME")
                return .targetNew(tid: try tid(1), name: args[2])
            case "delete":
                try count(2...2, "target delete TID")
                return .targetDelete(tid: try tid(1))
            case "show":
                try count(2...2, "target show TID")
                return .show(.target(try tid(1)), json: json)
            case "update":
                try count(3...Int.max, "target update TID KEY=VALUE...")
                var parameters: [Parameter] = []
                for word in args.dropFirst(2) {
                    for item in word.split(separator: ",", omittingEmptySubsequences: true) {
                        guard let eq = item.firstIndex(of: "="), eq != item.startIndex else {
                            throw ParseError("parameter '\(item)' is not KEY=VALUE")
                        }
                        parameters.append(Parameter(key: String(item[..<eq]), value: String(item[item.index(after: eq)...])))
                    }
                }
                guard !parameters.isEmpty else { throw ParseError("target update: no parameters") }
                return .targetUpdate(tid: try tid(1), parameters: parameters)
            default:
                throw ParseError("usage: target new|delete|update|show TID ...")
            }
        case "lun":
            switch args.first ?? "" {
            case "new":
                try count(4...4, "lun new TID LUN PARAMS")
                return .lunNew(tid: try tid(1), lun: try lun(2), parameters: args[3])
            case "delete":
                try count(3...3, "lun delete TID LUN")
                return .lunDelete(tid: try tid(1), lun: try lun(2))
            default:
                throw ParseError("usage: lun new|delete TID LUN ...")
            }
        case "session":
            guard args.first == "show" else { throw ParseError("usage: session show TID SID") }
            try count(3...3, "session show TID SID")
            return .sessionShow(tid: try tid(1), sid: try sid(2))
        case "conn":
            guard args.first == "delete" else { throw ParseError("usage: conn delete TID SID CID") }
            try count(4...4, "conn delete TID SID CID")
            guard let cid = Int(args[3]), (0...0xffff).contains(cid) else { throw ParseError("invalid cid '\(args[3])'") }
            return .connectionDelete(tid: try tid(1), sid: try sid(2), cid: cid)
        case "user":
            switch args.first ?? "" {
            case "show":
                try count(2...4, "user show TID [IncomingUser|OutgoingUser [NAME]]")
                return .userShow(tid: try tid(1), kind: args.count > 2 ? try kind(2) : nil, name: args.count > 3 ? args[3] : nil)
            case "new":
                try count(5...5, "user new TID IncomingUser|OutgoingUser NAME SECRET")
                return .userNew(tid: try tid(1), kind: try kind(2), name: args[3], secret: args[4])
            case "delete":
                try count(4...4, "user delete TID IncomingUser|OutgoingUser NAME")
                return .userDelete(tid: try tid(1), kind: try kind(2), name: args[3])
            default:
                throw ParseError("usage: user show|new|delete TID ...")
            }
        case "redirect":
            try count(1...2, "redirect TID [ADDRESS]")
            return .redirect(tid: try tid(0), address: args.count > 1 ? args[1] : "")
        case "delete-all":
            try count(0...0, "delete-all")
            return .deleteAll
        default:
            throw ParseError("unknown command '\(verb)'")
        }
    }

    /// The request for the log: CHAP secrets replaced by `<redacted>`.
    public var logDescription: String {
        switch self {
        case .ping: return "ping"
        case .show(let what, let json):
            let object: String
            switch what {
            case .targets: object = "targets"
            case .sessions: object = "sessions"
            case .luns: object = "luns"
            case .target(let tid): object = "target \(tid)"
            }
            return "show \(object)\(json ? " --json" : "")"
        case .reload(let force): return force ? "reload --force" : "reload"
        case .targetNew(let tid, let name): return "target new \(tid) \(name)"
        case .targetDelete(let tid): return "target delete \(tid)"
        case .targetUpdate(let tid, let parameters):
            return "target update \(tid) " + parameters.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
        case .lunNew(let tid, let lun, let parameters): return "lun new \(tid) \(lun) \(parameters)"
        case .lunDelete(let tid, let lun): return "lun delete \(tid) \(lun)"
        case .sessionShow(let tid, let sid): return "session show \(tid) \(sid)"
        case .connectionDelete(let tid, let sid, let cid): return "conn delete \(tid) \(sid) \(cid)"
        case .userShow(let tid, let kind, let name):
            return "user show \(tid)" + (kind.map { " \($0.rawValue)" } ?? "") + (name.map { " \($0)" } ?? "")
        case .userNew(let tid, let kind, let name, _): return "user new \(tid) \(kind.rawValue) \(name) <redacted>"
        case .userDelete(let tid, let kind, let name): return "user delete \(tid) \(kind.rawValue) \(name)"
        case .redirect(let tid, let address): return "redirect \(tid) \(address)"
        case .deleteAll: return "delete-all"
        }
    }
}

/// The word encoding of control requests: words joined by one space; `%`, space and control
/// characters inside a word are written `%XX` (upper-case hex), so paths and secrets travel intact.
public enum ControlWords {
    public struct DecodeError: Error, CustomStringConvertible, Hashable {
        public var description: String
    }

    public static func encode(_ words: [String]) -> String {
        words.map(encodeWord).joined(separator: " ")
    }

    public static func encodeWord(_ word: String) -> String {
        if word.isEmpty { return "%00" }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(word.utf8.count)
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

    /// Splits and decodes a request line. `%00` alone is the empty word.
    public static func decode(_ line: String) throws(DecodeError) -> [String] {
        var words: [String] = []
        for raw in line.split(separator: " ", omittingEmptySubsequences: true) {
            if raw == "%00" { words.append(""); continue }
            let bytes = Array(raw.utf8)
            var out: [UInt8] = []
            out.reserveCapacity(bytes.count)
            var i = 0
            while i < bytes.count {
                if bytes[i] == 0x25 {
                    guard i + 2 < bytes.count, let hi = hexValue(bytes[i + 1]), let lo = hexValue(bytes[i + 2]) else {
                        throw DecodeError(description: "malformed %-escape in '\(raw)'")
                    }
                    out.append(hi << 4 | lo)
                    i += 3
                } else {
                    out.append(bytes[i])
                    i += 1
                }
            }
            words.append(String(decoding: out, as: UTF8.self))
        }
        return words
    }

    private static func hexValue(_ b: UInt8) -> UInt8? {
        switch b {
        case 0x30...0x39: return b - 0x30
        case 0x41...0x46: return b - 0x41 + 10
        case 0x61...0x66: return b - 0x61 + 10
        default: return nil
        }
    }

    /// Decimal, or hexadecimal with `0x` (session ids are 64-bit).
    public static func parseUnsigned(_ text: String) -> UInt64? {
        if text.hasPrefix("0x") || text.hasPrefix("0X") { return UInt64(text.dropFirst(2), radix: 16) }
        return UInt64(text)
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

    /// Negotiated parameters of a session as `Key=Value` lines, in IET's key order
    /// (`ietadm --op show --tid=N --sid=S`).
    public static func sessionParameters(_ p: SessionParameters) -> String {
        let yes: (Bool) -> String = { $0 ? "Yes" : "No" }
        let lines: [(String, String)] = [
            ("InitialR2T", yes(p.initialR2T)),
            ("ImmediateData", yes(p.immediateData)),
            ("MaxConnections", "\(p.maxConnections)"),
            ("MaxRecvDataSegmentLength", "\(p.maxRecvDataSegmentLength)"),
            ("MaxXmitDataSegmentLength", "\(p.maxXmitDataSegmentLength)"),
            ("MaxBurstLength", "\(p.maxBurstLength)"),
            ("FirstBurstLength", "\(p.firstBurstLength)"),
            ("DefaultTime2Wait", "\(p.defaultTime2Wait)"),
            ("DefaultTime2Retain", "\(p.defaultTime2Retain)"),
            ("MaxOutstandingR2T", "\(p.maxOutstandingR2T)"),
            ("DataPDUInOrder", yes(p.dataPDUInOrder)),
            ("DataSequenceInOrder", yes(p.dataSequenceInOrder)),
            ("ErrorRecoveryLevel", "\(p.errorRecoveryLevel)"),
            ("HeaderDigest", p.headerDigest ? "CRC32C" : "None"),
            ("DataDigest", p.dataDigest ? "CRC32C" : "None"),
            // RFC 7143 §13.25 (Appendix): markers are not supported; IET forced them off.
            ("OFMarker", "No"),
            ("IFMarker", "No"),
        ]
        return lines.map { "\($0.0)=\($0.1)\n" }.joined()
    }

    /// The session keys a target offers (`ietadm --op show --tid=N --sid=0`: the configured values).
    public static func configuredSessionParameters(_ t: Target) -> String {
        let sessionKeys: Set<String> = [
            "InitialR2T", "ImmediateData", "MaxConnections", "MaxRecvDataSegmentLength", "MaxXmitDataSegmentLength",
            "MaxBurstLength", "FirstBurstLength", "DefaultTime2Wait", "DefaultTime2Retain", "MaxOutstandingR2T",
            "DataPDUInOrder", "DataSequenceInOrder", "ErrorRecoveryLevel", "HeaderDigest", "DataDigest",
        ]
        return targetParameters(t).split(separator: "\n").filter { line in
            guard let eq = line.firstIndex(of: "=") else { return false }
            return sessionKeys.contains(String(line[..<eq]))
        }.map { "\($0)\n" }.joined()
    }

    /// CHAP accounts by user name only (`ietadm --op show --user` printed secrets; we never do).
    public static func accounts(incoming: [CHAPAccount], outgoing: CHAPAccount?,
                                kind: ControlCommand.AccountKind? = nil, name: String? = nil) -> String {
        var out = ""
        if kind == nil || kind == .incoming {
            for a in incoming where name == nil || a.user == name { out += "IncomingUser \(a.user)\n" }
        }
        if kind == nil || kind == .outgoing, let a = outgoing, name == nil || a.user == name {
            out += "OutgoingUser \(a.user)\n"
        }
        return out
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
