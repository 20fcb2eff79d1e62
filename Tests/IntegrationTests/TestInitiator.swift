import Glibc
import ISCSIWire

/// A minimal blocking iSCSI initiator for loopback tests: login, text, SCSI commands, logout.
/// Deliberately independent of the target's runtime code; it shares only the wire codec.
final class TestInitiator {
    let fd: Int32
    var cmdSN: UInt32 = 1
    var expStatSN: UInt32 = 0
    var itt: UInt32 = 0x100
    var framer = PDUFramer(limits: FramerLimits(maxDataSegmentLength: 1 << 24, maxAHSLength: 1024, headerDigest: false, dataDigest: false))
    var maxSendSegment = 8192
    var isid: UInt64 = 0x80_1234_5678
    var tsih: UInt16 = 0

    struct Failure: Error, CustomStringConvertible { var description: String }

    init(port: UInt16, host: String = "127.0.0.1") throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket: \(errno)") }
        var tv = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        inet_pton(AF_INET, host, &addr.sin_addr)
        let rc = withUnsafePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else { Glibc.close(fd); throw Failure(description: "connect: \(errno)") }
    }

    deinit { Glibc.close(fd) }

    func nextITT() -> UInt32 { itt &+= 1; return itt }

    func sendRaw(_ bytes: [UInt8]) throws {
        var off = 0
        while off < bytes.count {
            let n = bytes[off...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw Failure(description: "send: \(errno)") }
            off += n
        }
    }

    func send(_ pdu: InitiatorPDU, data: [UInt8] = [], ahs: [UInt8] = []) throws {
        let bhs = pdu.encodeBHS(dataSegmentLength: data.count, ahs: ahs)
        try sendRaw(PDUEncoder.frame(bhs: bhs, ahs: ahs, data: data, headerDigest: false, dataDigest: false))
    }

    /// Next PDU from the target, or nil when the connection closed.
    func receive() throws -> (TargetPDU, [UInt8])? {
        while true {
            if let raw = try framer.next() {
                let pdu = try TargetPDU(bhs: raw.bhs, ahs: raw.ahs)
                return (pdu, raw.data)
            }
            var buf = [UInt8](repeating: 0, count: 65536)
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n == 0 { return nil }
            guard n > 0 else { throw Failure(description: "recv: \(errno)") }
            framer.append(buf[0..<n])
        }
    }

    func expectPDU() throws -> (TargetPDU, [UInt8]) {
        guard let r = try receive() else { throw Failure(description: "connection closed by target") }
        return r
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

    /// Logs in straight to full feature phase (security → operational → FFP) with AuthMethod=None.
    @discardableResult
    func login(initiatorName: String = "iqn.2026-11.org.example:test-initiator", targetName: String?, extraKeys: [(String, String)] = []) throws -> (LoginResponse, [String: String]) {
        var keys: [(String, String)] = [("InitiatorName", initiatorName)]
        if let targetName { keys.append(("TargetName", targetName)); keys.append(("SessionType", "Normal")) } else { keys.append(("SessionType", "Discovery")) }
        keys.append(("AuthMethod", "None"))
        let req1 = LoginRequest(transit: true, currentStage: 0, nextStage: 1, isid: isid, tsih: tsih, initiatorTaskTag: nextITT(), cmdSN: cmdSN, expStatSN: expStatSN)
        try send(.login(req1), data: TestInitiator.keys(keys))
        guard case .loginResponse(let r1) = try expectPDU().0 else { throw Failure(description: "expected login response") }
        guard r1.statusClass == 0 else { return (r1, [:]) }
        expStatSN = r1.statSN &+ 1
        var op: [(String, String)] = [
            ("HeaderDigest", "None"), ("DataDigest", "None"), ("MaxRecvDataSegmentLength", "262144"),
            ("DefaultTime2Wait", "2"), ("DefaultTime2Retain", "0"),
        ]
        if targetName != nil {
            op += [("InitialR2T", "No"), ("ImmediateData", "Yes"), ("MaxBurstLength", "16776192"), ("FirstBurstLength", "262144"),
                   ("MaxOutstandingR2T", "1"), ("MaxConnections", "1"), ("ErrorRecoveryLevel", "0"),
                   ("DataPDUInOrder", "Yes"), ("DataSequenceInOrder", "Yes")]
        }
        op += extraKeys
        let req2 = LoginRequest(transit: true, currentStage: 1, nextStage: 3, isid: isid, tsih: tsih, initiatorTaskTag: nextITT(), cmdSN: cmdSN, expStatSN: expStatSN)
        try send(.login(req2), data: TestInitiator.keys(op))
        let (p2, d2) = try expectPDU()
        guard case .loginResponse(let r2) = p2 else { throw Failure(description: "expected login response") }
        expStatSN = r2.statSN &+ 1
        tsih = r2.tsih
        let answered = TestInitiator.parseKeys(d2)
        if let m = answered["MaxRecvDataSegmentLength"], let v = Int(m) { maxSendSegment = v }
        return (r2, answered)
    }

    /// Runs one SCSI command; returns status, sense bytes and data-in.
    func scsi(lun: UInt16 = 0, cdb: [UInt8], readLength: Int = 0, writeData: [UInt8] = [], immediate: Bool = true) throws -> (status: UInt8, sense: [UInt8], data: [UInt8], response: SCSIResponsePDU?) {
        var cdb16 = cdb
        while cdb16.count < 16 { cdb16.append(0) }
        let tag = nextITT()
        let edtl = writeData.isEmpty ? readLength : writeData.count
        let immediateData = immediate ? Array(writeData.prefix(min(maxSendSegment, 262144))) : []
        let cmd = SCSICommandPDU(final: immediateData.count == writeData.count || !immediate, read: readLength > 0, write: !writeData.isEmpty,
                                 lun: SAMLUN.encode(lun), initiatorTaskTag: tag, expectedDataTransferLength: UInt32(edtl),
                                 cmdSN: cmdSN, expStatSN: expStatSN, cdb: cdb16)
        cmdSN &+= 1
        try send(.scsiCommand(cmd), data: immediateData)
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
                    let d = DataOut(final: offset + n >= end, lun: SAMLUN.encode(lun), initiatorTaskTag: tag,
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
                    return (d.status, [], dataIn, nil)
                }
            case .scsiResponse(let r):
                expStatSN = r.statSN &+ 1
                var sense: [UInt8] = []
                if data.count >= 2 {
                    let len = Int(data[0]) << 8 | Int(data[1])
                    sense = Array(data.dropFirst(2).prefix(len))
                }
                return (r.status, sense, dataIn, r)
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
