import BlockStore
import Glibc
import IETConfig
import ISCSITarget
import ISCSIWire
import LinuxIO
import Logging
import Testing

// Copied and adapted from Tests/IntegrationTests (LoopbackFixture, TestInitiator): this target must not
// depend on another test target.

/// The real runtime in-process on 127.0.0.1 (ephemeral port): target `hostile` with a 16 MiB file LUN 0
/// and a nullio LUN 3.
final class HostileFixture {
    let server: TargetServer
    let targets: [Target]
    let port: UInt16
    let dir: String
    let image: String
    static let targetName = "iqn.2026-11.org.example:hostile"
    static let imageSize = 16 << 20

    init(settings: ServerSettings = ServerSettings(), targetLines: String = "", loops: Int = 2) throws {
        var template = Array("/tmp/iscsi-hostile-XXXXXX".utf8CString)
        let d = template.withUnsafeMutableBufferPointer { buf -> UnsafeMutablePointer<CChar>? in
            guard let base = buf.baseAddress else { return nil }
            return mkdtemp(base)
        }
        guard let d else { throw Peer.Failure(description: "mkdtemp") }
        dir = String(cString: d)
        image = dir + "/lun0.img"
        let fd = open(image, O_RDWR | O_CREAT, 0o600)
        _ = ftruncate(fd, off_t(HostileFixture.imageSize))
        Glibc.close(fd)
        let text = """
        Target \(HostileFixture.targetName)
            Lun 0 Path=\(image),Type=fileio
            Lun 3 Blocks=2048,BlockSize=4096,Type=nullio
        \(targetLines)
        """
        let (config, diags) = ConfigParser.parse(text, path: dir + "/ietd.conf")
        guard let config else { throw Peer.Failure(description: "config: \(diags)") }
        // ITEST_LOG=1 shows the daemon's log lines on stderr.
        let verbose = getenv("ITEST_LOG") != nil
        let logger = Logger(label: "hostile", factory: { label in
            if verbose {
                var h = StreamLogHandler.standardError(label: label)
                h.logLevel = .debug
                return h
            }
            return SwiftLogNoOpLogHandler()
        })
        targets = try TargetBuilder.build(config, logger: logger)
        let (acl, _) = AccessControl.load(directory: dir)
        let registry = TargetRegistry(configuration: config, targets: targets, access: acl)
        server = try TargetServer(registry: registry, settings: settings, loopCount: loops, logger: logger)
        let bound = try server.listen(on: [Portal(host: "127.0.0.1", port: 0)])
        port = bound.first?.port ?? 0
    }

    /// The backing device of LUN `lun` (to attach a `FaultInjector`).
    func device(lun: UInt16 = 0) -> BackingDevice? {
        targets.first?.units[lun]?.device
    }

    /// Waits (bounded: at most `polls` × 10 ms, no assertion on the time) until the server has `count`
    /// connections. Returns the last value seen.
    @discardableResult
    func waitForConnectionCount(_ count: Int, polls: Int = 1000) -> Int {
        var seen = server.connectionCount
        var n = 0
        while seen != count && n < polls {
            usleep(10_000)
            seen = server.connectionCount
            n += 1
        }
        return seen
    }

    deinit {
        server.stop()
        _ = unlink(image)
        _ = rmdir(dir)
    }
}

/// A minimal blocking iSCSI initiator that can also misbehave: raw bytes, any PDU.
final class Peer {
    let fd: Int32
    var cmdSN: UInt32 = 1
    var expStatSN: UInt32 = 0
    var itt: UInt32 = 0x100
    var framer = PDUFramer(limits: FramerLimits(maxDataSegmentLength: 1 << 24, maxAHSLength: 1024, headerDigest: false, dataDigest: false))
    var maxSendSegment = 8192
    var isid: UInt64
    var tsih: UInt16 = 0
    static let isidCounter = IDCounter()

    struct Failure: Error, CustomStringConvertible { var description: String }

    /// How the target answered a misbehaving peer.
    enum Outcome: Equatable, CustomStringConvertible {
        case closed
        case reject(reason: UInt8)
        case loginFailure(statusClass: UInt8, detail: UInt8)
        case other(String)
        var description: String {
            switch self {
            case .closed: "closed"
            case .reject(let r): "Reject 0x\(String(r, radix: 16))"
            case .loginFailure(let c, let d): "login failure 0x\(String(c, radix: 16))\(String(d, radix: 16))"
            case .other(let s): s
            }
        }
    }

    init(port: UInt16, timeoutSeconds: Int = 10) throws {
        isid = 0x80_0000_0000 | Peer.isidCounter.next()
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket: \(errno)") }
        var tv = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr)
        let rc = withUnsafePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else { Glibc.close(fd); throw Failure(description: "connect: \(errno)") }
    }

    deinit { Glibc.close(fd) }

    /// Closes abruptly (RST when unread data is pending: SO_LINGER 0).
    func abort() {
        var l = linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, socklen_t(MemoryLayout<linger>.size))
        shutdown(fd, Int32(SHUT_RDWR))
    }

    func nextITT() -> UInt32 { itt &+= 1; return itt }

    /// Sends bytes; false when the target already closed the connection (EPIPE / ECONNRESET).
    @discardableResult
    func sendRaw(_ bytes: [UInt8]) throws -> Bool {
        var off = 0
        while off < bytes.count {
            let n = bytes[off...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n < 0 && (errno == EPIPE || errno == ECONNRESET) { return false }
            guard n > 0 else { throw Failure(description: "send: \(errno)") }
            off += n
        }
        return true
    }

    @discardableResult
    func send(_ pdu: InitiatorPDU, data: [UInt8] = [], ahs: [UInt8] = []) throws -> Bool {
        let bhs = pdu.encodeBHS(dataSegmentLength: data.count, ahs: ahs)
        return try sendRaw(PDUEncoder.frame(bhs: bhs, ahs: ahs, data: data, headerDigest: digests, dataDigest: digests))
    }

    /// CRC32C header and data digests in force (after a login that negotiated them).
    var digests = false {
        didSet { framer.limits.headerDigest = digests; framer.limits.dataDigest = digests }
    }

    /// Next PDU from the target, or nil when the connection closed (or was reset).
    func receive() throws -> (TargetPDU, [UInt8])? {
        while true {
            if let raw = try framer.next() {
                let pdu = try TargetPDU(bhs: raw.bhs, ahs: raw.ahs)
                return (pdu, raw.data)
            }
            var buf = [UInt8](repeating: 0, count: 65536)
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n == 0 { return nil }
            if n < 0 && errno == ECONNRESET { return nil }
            guard n > 0 else { throw Failure(description: "recv: \(errno) (timed out waiting for the target?)") }
            framer.append(buf[0..<n])
        }
    }

    func expectPDU() throws -> (TargetPDU, [UInt8]) {
        guard let r = try receive() else { throw Failure(description: "connection closed by target") }
        return r
    }

    /// Reads until the target rejects, fails the login or closes; skips NOP-Ins and async messages.
    /// A login failure is followed by the close, which is waited for too.
    func outcome() throws -> Outcome {
        while true {
            guard let (pdu, _) = try receive() else { return .closed }
            switch pdu {
            case .reject(let r): return .reject(reason: r.reason)
            case .loginResponse(let r) where r.statusClass != 0:
                let closedAfter = (try? receive()) == nil
                return closedAfter ? .loginFailure(statusClass: r.statusClass, detail: r.statusDetail)
                    : .other("login failure 0x\(r.statusClass)\(r.statusDetail) without close")
            case .nopIn, .asyncMessage: continue
            default: return .other("\(pdu)")
            }
        }
    }

    static func keys(_ pairs: [(String, String)]) -> [UInt8] {
        var out: [UInt8] = []
        for (k, v) in pairs { out += Array("\(k)=\(v)".utf8); out.append(0) }
        return out
    }

    static func parseKeys(_ data: [UInt8]) -> [String: String] {
        var out: [String: String] = [:]
        for part in data.split(separator: 0) {
            let s = String(decoding: part, as: UTF8.self)
            if let eq = s.firstIndex(of: "=") { out[String(s[..<eq])] = String(s[s.index(after: eq)...]) }
        }
        return out
    }

    static let securityKeys: [(String, String)] = [
        ("InitiatorName", "iqn.2026-11.org.example:hostile-initiator"),
        ("TargetName", HostileFixture.targetName), ("SessionType", "Normal"), ("AuthMethod", "None"),
    ]

    static let operationalKeys: [(String, String)] = [
        ("HeaderDigest", "None"), ("DataDigest", "None"), ("MaxRecvDataSegmentLength", "262144"),
        ("DefaultTime2Wait", "2"), ("DefaultTime2Retain", "0"), ("InitialR2T", "No"), ("ImmediateData", "Yes"),
        ("MaxBurstLength", "16776192"), ("FirstBurstLength", "262144"), ("MaxOutstandingR2T", "1"),
        ("MaxConnections", "1"), ("ErrorRecoveryLevel", "0"), ("DataPDUInOrder", "Yes"), ("DataSequenceInOrder", "Yes"),
    ]

    func loginRequest(transit: Bool = true, continueFlag: Bool = false, csg: UInt8, nsg: UInt8) -> LoginRequest {
        LoginRequest(transit: transit, continueFlag: continueFlag, currentStage: csg, nextStage: nsg, isid: isid, tsih: tsih,
                     initiatorTaskTag: nextITT(), cmdSN: cmdSN, expStatSN: expStatSN)
    }

    /// Logs in to full feature phase (security → operational → FFP) and returns the final response and keys.
    @discardableResult
    func login(operational extra: [(String, String)] = []) throws -> (LoginResponse, [String: String]) {
        try send(.login(loginRequest(csg: 0, nsg: 1)), data: Peer.keys(Peer.securityKeys))
        guard case .loginResponse(let r1) = try expectPDU().0 else { throw Failure(description: "expected login response") }
        guard r1.statusClass == 0 else { throw Failure(description: "login failed 0x\(r1.statusClass)\(r1.statusDetail)") }
        expStatSN = r1.statSN &+ 1
        var op = Peer.operationalKeys.filter { k in !extra.contains { $0.0 == k.0 } }
        op += extra
        try send(.login(loginRequest(csg: 1, nsg: 3)), data: Peer.keys(op))
        let (p2, d2) = try expectPDU()
        guard case .loginResponse(let r2) = p2, r2.statusClass == 0 else { throw Failure(description: "operational login failed: \(p2)") }
        expStatSN = r2.statSN &+ 1
        tsih = r2.tsih
        let answered = Peer.parseKeys(d2)
        if let m = answered["MaxRecvDataSegmentLength"], let v = Int(m) { maxSendSegment = v }
        return (r2, answered)
    }

    struct SCSIResult {
        var status: UInt8
        var sense: [UInt8]
        var data: [UInt8]
        var response: SCSIResponsePDU?
        /// Sense key, ASC, ASCQ from fixed-format sense.
        var senseTriple: (key: UInt8, asc: UInt8, ascq: UInt8)? {
            guard sense.count >= 14 else { return nil }
            return (sense[2] & 0x0f, sense[12], sense[13])
        }
    }

    /// Runs one SCSI command (immediate data, then R2T-driven Data-Out); returns status, sense and data.
    func scsi(lun: UInt16 = 0, cdb: [UInt8], readLength: Int = 0, writeData: [UInt8] = []) throws -> SCSIResult {
        let tag = try sendCommand(lun: lun, cdb: cdb, readLength: readLength, writeData: writeData)
        return try collect(tag: tag, lun: lun, readLength: readLength, writeData: writeData)
    }

    /// Sends the command PDU (with immediate data); returns its ITT.
    func sendCommand(lun: UInt16 = 0, cdb: [UInt8], readLength: Int = 0, writeData: [UInt8] = [], cmdSNOverride: UInt32? = nil) throws -> UInt32 {
        var cdb16 = cdb
        while cdb16.count < 16 { cdb16.append(0) }
        let tag = nextITT()
        let edtl = writeData.isEmpty ? readLength : writeData.count
        let immediateData = Array(writeData.prefix(min(maxSendSegment, 262144)))
        let cmd = SCSICommandPDU(final: immediateData.count == writeData.count, read: readLength > 0, write: !writeData.isEmpty,
                                 lun: SAMLUN.encode(lun), initiatorTaskTag: tag, expectedDataTransferLength: UInt32(edtl),
                                 cmdSN: cmdSNOverride ?? cmdSN, expStatSN: expStatSN, cdb: cdb16)
        if cmdSNOverride == nil { cmdSN &+= 1 }
        try send(.scsiCommand(cmd), data: immediateData)
        return tag
    }

    func collect(tag: UInt32, lun: UInt16 = 0, readLength: Int = 0, writeData: [UInt8] = []) throws -> SCSIResult {
        var dataIn = [UInt8](repeating: 0, count: readLength)
        while true {
            let (pdu, data) = try expectPDU()
            switch pdu {
            case .r2t(let r2t):
                var offset = Int(r2t.bufferOffset)
                let end = offset + Int(r2t.desiredDataTransferLength)
                var dataSN: UInt32 = 0
                while offset < end {
                    let n = min(maxSendSegment, end - offset)
                    let d = DataOut(final: offset + n >= end, lun: SAMLUN.encode(lun), initiatorTaskTag: r2t.initiatorTaskTag,
                                    targetTransferTag: r2t.targetTransferTag, expStatSN: expStatSN, dataSN: dataSN,
                                    bufferOffset: UInt32(offset))
                    dataSN += 1
                    try send(.dataOut(d), data: Array(writeData[offset..<(offset + n)]))
                    offset += n
                }
            case .dataIn(let d):
                let off = Int(d.bufferOffset)
                if off + data.count <= dataIn.count { dataIn.replaceSubrange(off..<(off + data.count), with: data) }
                if d.statusPresent {
                    expStatSN = d.statSN &+ 1
                    return SCSIResult(status: d.status, sense: [], data: dataIn, response: nil)
                }
            case .scsiResponse(let r):
                expStatSN = r.statSN &+ 1
                var sense: [UInt8] = []
                if data.count >= 2 {
                    let len = Int(data[0]) << 8 | Int(data[1])
                    sense = Array(data.dropFirst(2).prefix(len))
                }
                return SCSIResult(status: r.status, sense: sense, data: dataIn, response: r)
            case .nopIn:
                continue
            default:
                throw Failure(description: "unexpected PDU \(pdu)")
            }
        }
    }

    func logout() throws -> LogoutResponse? {
        let req = LogoutRequest(reasonCode: 0, initiatorTaskTag: nextITT(), cmdSN: cmdSN, expStatSN: expStatSN)
        try send(.logout(req))
        guard let (pdu, _) = try receive() else { return nil }
        if case .logoutResponse(let r) = pdu { return r }
        return nil
    }
}

/// Distinct ISIDs per peer, so that no test reinstates another's session by accident.
final class IDCounter: Sendable {
    private let value = Atomic<UInt64>(1)
    func next() -> UInt64 { value.add(1, ordering: .relaxed).newValue }
}

import Synchronization

/// Deterministic test data.
func pattern(_ count: Int, seed: UInt32) -> [UInt8] {
    var x = seed
    return (0..<count).map { _ in x = x &* 1103515245 &+ 12345; return UInt8(truncatingIfNeeded: x >> 16) }
}

func cdb10(_ opcode: UInt8, lba: UInt32, blocks: UInt16) -> [UInt8] {
    [opcode, 0, UInt8(lba >> 24), UInt8((lba >> 16) & 0xff), UInt8((lba >> 8) & 0xff), UInt8(lba & 0xff), 0,
     UInt8(blocks >> 8), UInt8(blocks & 0xff), 0]
}

/// A well-behaved initiator with a session open before the hostile act; `check()` proves it still does
/// I/O without an error afterwards (write, read back, compare), and that a fresh login still works.
final class Bystander {
    let peer: Peer
    let port: UInt16
    var round: UInt32 = 0
    /// LBAs 30000+ are the bystander's (the hostile peers stay below).
    static let baseLBA: UInt32 = 30000

    init(_ f: HostileFixture) throws {
        port = f.port
        peer = try Peer(port: f.port)
        try peer.login()
    }

    func check(sourceLocation: Testing.SourceLocation = #_sourceLocation) throws {
        round += 1
        let data = pattern(8192, seed: round &* 7919)
        let lba = Bystander.baseLBA + round * 16
        // SAM-5 §5.14: a reset by another nexus leaves one UNIT ATTENTION for this one; initiators retry.
        var w = try peer.scsi(cdb: cdb10(0x2a, lba: lba, blocks: 16), writeData: data)
        if w.status == 2, w.senseTriple?.key == 0x06 { w = try peer.scsi(cdb: cdb10(0x2a, lba: lba, blocks: 16), writeData: data) }
        #expect(w.status == 0, "bystander write: sense \(w.sense.prefix(14))", sourceLocation: sourceLocation)
        let r = try peer.scsi(cdb: cdb10(0x28, lba: lba, blocks: 16), readLength: data.count)
        #expect(r.status == 0, "bystander read", sourceLocation: sourceLocation)
        let same = r.data == data
        #expect(same, "bystander data", sourceLocation: sourceLocation)
        let fresh = try Peer(port: port)
        try fresh.login()
        #expect(try fresh.scsi(cdb: [0, 0, 0, 0, 0, 0]).status == 0, "fresh TUR", sourceLocation: sourceLocation)
        _ = try fresh.logout()
    }
}
