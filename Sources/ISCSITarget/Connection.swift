import BlockStore
import Checksums
import Glibc
import IETConfig
import ISCSINegotiation
import ISCSIWire
import LinuxIO
import Logging
import SCSICommands

/// One iSCSI connection (and, since MaxConnections=1, its session): receive state machine, login,
/// full feature phase, SCSI task execution and the send queue. Lives on one event loop; every method
/// runs on that loop's thread.
final class Connection: EventHandler, SCSICompletionSink {
    let id: UInt64
    let fd: Int32
    let peer: SocketAddress
    let local: SocketAddress
    let ctx: LoopContext
    var logger: Logger
    private var registration: Registration?

    // MARK: receive state

    /// Receive buffer: bytes [rxStart, rxEnd) are unread.
    private let rx: UnsafeMutableRawBufferPointer
    private var rxStart = 0
    private var rxEnd = 0
    private static let rxCapacity = 256 * 1024
    /// Reads straight into an I/O buffer when at least this much payload is still expected.
    private static let directReadThreshold = 16 * 1024

    private enum DataSink {
        case scratch
        /// Into the task's I/O buffer at `offset`; bytes past `limit` are dropped.
        case buffer(SCSITask, offset: Int, limit: Int)
        case discard
        /// Read and drop the data, then continue with the task (immediate data of a failed command).
        case discardFor(SCSITask)
    }
    /// The PDU whose data segment is being received. A class: it is updated in place as bytes arrive (a struct
    /// with five reference-counted fields was copied several times per command).
    private final class PendingPayload {
        private(set) var pdu: InitiatorPDU = idlePDU
        private(set) var bhs: [UInt8] = []
        private(set) var dataLength = 0
        private(set) var paddedLength = 0
        private(set) var digestLength = 0
        private(set) var sink: DataSink = .discard
        /// Bytes of (padded data + digest) consumed so far.
        var consumed: Int = 0
        var scratch: [UInt8] = []
        var digestBytes: [UInt8] = []

        /// Makes the object describe the next PDU (a finished object is reused: no allocation per PDU).
        func reset(pdu: InitiatorPDU, bhs: [UInt8], dataLength: Int, paddedLength: Int, digestLength: Int, sink: DataSink) {
            self.pdu = pdu
            self.bhs = bhs
            self.dataLength = dataLength
            self.paddedLength = paddedLength
            self.digestLength = digestLength
            self.sink = sink
            consumed = 0
            scratch = []
            digestBytes.removeAll(keepingCapacity: true)
        }

        /// Drops what a finished PDU referenced: its task must not outlive its command because a spare payload
        /// object still points at it (tasks count as load for busy-polling until they are freed).
        func clear() {
            pdu = Self.idlePDU
            bhs = []
            sink = .discard
            scratch = []
        }

        static let idlePDU = InitiatorPDU.nopOut(NOPOut(initiatorTaskTag: 0xffff_ffff, cmdSN: 0, expStatSN: 0))
    }
    private var pending: PendingPayload?
    /// The payload object reused for the next PDU once nothing else holds it (an allocation per PDU saved).
    private var sparePending = PendingPayload()
    /// The BHS of the PDU being parsed, copied in place when no earlier PDU still holds the array.
    private var bhsBuffer = [UInt8](repeating: 0, count: BHS.size)

    private func makePending(pdu: InitiatorPDU, bhs: [UInt8], dataLength: Int, digest: Bool, sink: DataSink) -> PendingPayload {
        // A new object only while the spare one is still in use (a PDU dispatched from inside another's dispatch).
        if !isKnownUniquelyReferenced(&sparePending) { sparePending = PendingPayload() }
        sparePending.reset(pdu: pdu, bhs: bhs, dataLength: dataLength, paddedLength: paddedLength(dataLength),
                           digestLength: digest && dataLength > 0 ? 4 : 0, sink: sink)
        return sparePending
    }

    // MARK: phases

    private enum Phase {
        case login
        case fullFeature
        case closing
    }
    private var phase: Phase = .login
    private var login: LoginStateMachine
    private var loginTimer: TimerID?
    var params: SessionParameters? {
        didSet { burst = BurstLimits(params) }
    }
    /// The negotiated numbers the per-command path reads (a copy of `params` would retain its strings).
    private var burst = BurstLimits(nil)

    private struct BurstLimits {
        var firstBurstLength = 0
        var maxBurstLength = 0
        var maxOutstandingR2T = 1
        var initialR2T = true
        var immediateData = false
        /// Login completed with session parameters (a full-feature session).
        var negotiated = false
        init(_ p: SessionParameters?) {
            guard let p else { return }
            negotiated = true
            firstBurstLength = Int(p.firstBurstLength)
            maxBurstLength = Int(p.maxBurstLength)
            maxOutstandingR2T = max(1, Int(p.maxOutstandingR2T))
            initialR2T = p.initialR2T
            immediateData = p.immediateData
        }
    }
    var target: Target?
    private var sessionKey: SessionKey?
    private var sessionID: UInt64 = 0
    private var tsih: UInt16 = 0
    private var text: TextNegotiator?

    /// Negotiated digests and limits in force.
    private var headerDigest = false
    private var dataDigest = false
    /// What we accept per PDU (our declared MaxRecvDataSegmentLength; 8192 during login, RFC 7143 §13.12).
    private var maxRecvDataSegment = 8192
    /// What we may send per PDU (the initiator's MaxRecvDataSegmentLength, capped by configuration).
    private var maxXmitDataSegment = 8192

    // MARK: session numbering (RFC 7143 §4.2.2)

    private var statSN: UInt32 = 0
    private var expCmdSN: UInt32 = 0
    private var maxCmdSN: UInt32 = 0
    private var queueDepth = 128
    /// Non-immediate commands admitted but not yet answered.
    private var commandsInFlight = 0
    /// Commands that arrived early within the window, waiting for the gap to fill (RFC 7143 §4.2.2.1).
    private var heldCommands: [UInt32: () -> Void] = [:]

    // MARK: tasks

    private var tasks = TaskTable()                        // by ITT
    private var r2tTags: [UInt32: UInt32] = [:]           // TTT → ITT
    private var nextTTT: UInt32 = 1
    private var ioInFlight = 0
    /// Data-buffer bytes held by this connection's commands (bounded by maxBufferedBytesPerConnection).
    private var bytesCommitted = 0
    private var settleWaiters: [() -> Void] = []
    private var pendingSenseForRequestSense: SenseReason?
    /// Pending unit attention per LUN on this I_T nexus (SAM-5 §5.14).
    private var unitAttentions: [UInt16: SenseReason] = [:]

    // MARK: NOP pings (NOPInterval / NOPTimeout)

    private var nopTimer: TimerID?
    private var nopTimeoutTimer: TimerID?
    private var pingTTT: UInt32 = 0

    // MARK: send

    private var tx = TransmitQueue()
    private var flushScheduled = false
    private var wantWritable = false
    private var closeAfterFlush = false
    private var onClosed: [() -> Void] = []
    /// Called once when the connection leaves the login phase (full feature or closed).
    var onLoginFinished: (() -> Void)?
    private(set) var closed = false

    init(id: UInt64, fd: Int32, peer: SocketAddress, local: SocketAddress, ctx: LoopContext) {
        self.id = id
        self.fd = fd
        self.peer = peer
        self.local = local
        self.ctx = ctx
        var logger = ctx.logger
        logger[metadataKey: "iscsi.conn"] = "\(id)"
        logger[metadataKey: "iscsi.peer"] = "\(peer)"
        self.logger = logger
        rx = UnsafeMutableRawBufferPointer.allocate(byteCount: Connection.rxCapacity, alignment: 64)
        let registry = ctx.registry
        let peerHost = peer.host
        let localHost = local.host
        let settings = ctx.settings
        let env = LoginEnvironment(
            lookupTarget: { name, initiator in
                guard let t = registry.target(named: name) else { return .notFound }
                let acl = registry.accessControl
                guard acl.initiatorAllowed(target: t.name, initiatorName: initiator, peerAddress: peerHost),
                      acl.targetAllowed(target: t.name, localAddress: localHost) else { return .accessDenied }
                // RFC 7143 §12.1: a target with IncomingUser accounts requires CHAP.
                return .found(TargetLoginInfo(name: t.name, alias: t.config.alias, portalGroupTag: settings.portalGroupTag,
                                              policy: t.policy, incomingAccounts: t.config.incomingUsers.map(Connection.credential),
                                              outgoingAccount: t.config.outgoingUser.map(Connection.credential)))
            },
            discoveryPolicy: TargetNegotiationPolicy(),
            discoveryIncomingAccounts: registry.configuration.discoveryIncomingUsers.map(Connection.credential),
            discoveryOutgoingAccount: registry.configuration.discoveryOutgoingUser.map(Connection.credential),
            portalGroupTag: settings.portalGroupTag)
        login = LoginStateMachine(environment: env, initialStatSN: UInt32.random(in: 1...0x7fff_ffff))
    }

    deinit {
        rx.deallocate()
    }

    @Sendable static func credential(_ a: CHAPAccount) -> CHAPCredential {
        CHAPCredential(user: a.user, secret: a.secret)
    }

    func start() throws {
        registration = try ctx.loop.register(fd: fd, events: [.readable, .readHangup], handler: self)
        let seconds = ctx.settings.loginTimeoutSeconds
        loginTimer = ctx.loop.schedule(after: seconds * 1_000_000_000) { [weak self] in
            guard let self, case .login = self.phase else { return }
            self.logger.info("login timed out", metadata: ["timeout.s": "\(seconds)"])
            self.close(reason: "login timeout")
        }
        logger.debug("connection accepted", metadata: ["local": "\(local)"])
    }

    // MARK: - Events

    func handleEvents(_ events: EpollEvents) {
        if closed { return }
        if events.contains(.writable) {
            flush()
        }
        if events.contains(.readable) || events.contains(.readHangup) || events.contains(.hangup) || events.contains(.error) {
            readAvailable()
        }
    }

    /// Reads and processes up to a bounded amount per wake-up, so one busy connection cannot starve the
    /// loop (SPDK's GET_PDU_LOOP_COUNT idea).
    private func readAvailable() {
        var rounds = 0
        while !closed, rounds < 16, !isClosing {
            rounds += 1
            if tx.queuedBytes > ctx.settings.maxQueuedBytesPerConnection {
                readPaused = true
                updateInterest()
                return
            }
            // Direct read into the task's I/O buffer when a large payload is pending and nothing is buffered.
            if rxStart == rxEnd, let p = pending, case .buffer(let task, let offset, let limit) = p.sink,
               min(limit, p.dataLength) - p.consumed >= Connection.directReadThreshold, let buf = task.buffer {
                let want = min(limit, p.dataLength) - p.consumed
                let dst = UnsafeMutableRawBufferPointer(start: buf.pointer + offset + p.consumed, count: want)
                guard let n = readSocket(into: dst) else { return }
                p.consumed += n
                pending = p
                if p.consumed >= p.paddedLength + p.digestLength { completePayload() }
                continue
            }
            // Compact, then read into the receive buffer.
            if rxStart > 0 && (rxStart == rxEnd || rxStart > Connection.rxCapacity / 2) {
                if rxEnd > rxStart, let base = rx.baseAddress {
                    memmove(base, base + rxStart, rxEnd - rxStart)
                }
                rxEnd -= rxStart
                rxStart = 0
            }
            if rxEnd == Connection.rxCapacity {
                // Buffer full with an unparsed prefix: cannot happen as headers are ≤ 48+1020+4 bytes and
                // payload is consumed incrementally.
                close(reason: "receive buffer overrun")
                return
            }
            let space = UnsafeMutableRawBufferPointer(rebasing: rx[rxEnd..<Connection.rxCapacity])
            guard let n = readSocket(into: space) else { return }
            rxEnd += n
            processBuffered()
            // A short read drained the socket: epoll (level-triggered) reports more data
            // later, so skip the read that would only return EAGAIN.
            if n < space.count { return }
        }
    }

    /// One non-blocking read from the socket: the byte count (> 0), or nil when there is nothing to read now
    /// or the connection was closed here (end of stream or a read error).
    @inline(__always)
    private func readSocket(into buffer: UnsafeMutableRawBufferPointer) -> Int? {
        do {
            switch try Socket.read(fd, into: buffer) {
            case .wouldBlock:
                return nil
            case .processed(0):
                close(reason: "peer closed the connection")
                return nil
            case .processed(let n):
                return n
            }
        } catch {
            close(reason: "read failed: \(error)")
            return nil
        }
    }

    private var isFullFeature: Bool {
        if case .fullFeature = phase { return true }
        return false
    }

    private var isClosing: Bool {
        if case .closing = phase { return true }
        return false
    }

    /// Parses as many PDUs from the receive buffer as are complete.
    private func processBuffered() {
        while !closed && !isClosing {
            if pending != nil {
                if !consumePayloadFromBuffer() { return }
                continue
            }
            let available = rxEnd - rxStart
            guard available >= 48, let base = rx.baseAddress else { return }
            let info = BHSInfo.peek(UnsafeRawBufferPointer(start: base + rxStart, count: 48))
            // RFC 7143 §11.2.1.4 / §13.12: never accept more than we declared — checked as soon as the
            // BHS is in, before waiting for (or buffering) anything else.
            guard info.dataSegmentLength <= maxRecvDataSegment else {
                logger.info("data segment exceeds MaxRecvDataSegmentLength", metadata: [
                    "length": "\(info.dataSegmentLength)", "limit": "\(maxRecvDataSegment)"])
                close(reason: "DataSegmentLength \(info.dataSegmentLength) over limit \(maxRecvDataSegment)")
                return
            }
            guard info.knownOpcode != nil || isFullFeature else {
                close(reason: "unknown opcode 0x\(String(info.opcode, radix: 16)) before login completed")
                return
            }
            let headerLength = 48 + info.totalAHSLength + (headerDigest ? 4 : 0)
            guard available >= headerLength else { return }
            // Copy-on-write keeps this safe: an array still held elsewhere is copied, not overwritten.
            bhsBuffer.withUnsafeMutableBytes { $0.copyMemory(from: UnsafeRawBufferPointer(start: base + rxStart, count: 48)) }
            let bhs = bhsBuffer
            let ahs = Array(UnsafeRawBufferPointer(start: base + rxStart + 48, count: info.totalAHSLength))
            if headerDigest {
                let computed = CRC32C.checksum(UnsafeRawBufferPointer(start: base + rxStart, count: 48 + info.totalAHSLength))
                let wire = UnsafeRawBufferPointer(start: base + rxStart + 48 + info.totalAHSLength, count: 4)
                if CRC32C.wireBytes(computed) != Array(wire) {
                    // RFC 7143 §7.8 (ERL 0): a header digest error is connection-fatal.
                    logger.info("header digest mismatch, closing")
                    close(reason: "header digest error")
                    return
                }
            }
            rxStart += headerLength
            let pdu: InitiatorPDU
            do {
                if info.opcode == Opcode.scsiCommand.rawValue, var spare = ctx.load.spareCDBs.popLast() {
                    pdu = try InitiatorPDU(bhs: bhs, ahs: ahs, reusingCDB: &spare)
                } else {
                    pdu = try InitiatorPDU(bhs: bhs, ahs: ahs)
                }
            } catch {
                if error.code == .unknownOpcode, case .fullFeature = phase {
                    // RFC 7143 §11.17.1: Reject "command not supported", skip its data.
                    sendReject(reason: 0x05, bhs: bhs)
                    pending = makePending(pdu: .nopOut(NOPOut(initiatorTaskTag: reservedTag, cmdSN: 0, expStatSN: 0)),
                                          bhs: bhs, dataLength: info.dataSegmentLength, digest: dataDigest, sink: .discard)
                    ignoreCompletedPending = true
                    continue
                }
                logger.info("malformed PDU, closing", metadata: ["error": "\(error)"])
                close(reason: "malformed PDU: \(error)")
                return
            }
            let sink = sinkForHeader(pdu, bhs: bhs, dataLength: info.dataSegmentLength)
            if closed || isClosing { return }
            pending = makePending(pdu: pdu, bhs: bhs, dataLength: info.dataSegmentLength, digest: dataDigest, sink: sink)
            if info.dataSegmentLength == 0 { completePayload() }
        }
    }

    private var ignoreCompletedPending = false

    /// Moves payload bytes from the receive buffer to the pending PDU's sink. Returns false when more bytes are needed.
    private func consumePayloadFromBuffer() -> Bool {
        guard let p = pending, let base = rx.baseAddress else { return false }
        let total = p.paddedLength + p.digestLength
        while p.consumed < total {
            let available = rxEnd - rxStart
            if available == 0 { pending = p; return false }
            let n = min(available, total - p.consumed)
            let src = UnsafeRawBufferPointer(start: base + rxStart, count: n)
            // Split into data / padding / digest parts.
            var i = 0
            while i < n {
                let pos = p.consumed + i
                if pos < p.dataLength {
                    let k = min(n - i, p.dataLength - pos)
                    let part = UnsafeRawBufferPointer(rebasing: src[i..<(i + k)])
                    switch p.sink {
                    case .scratch: p.scratch.append(contentsOf: part)
                    case .buffer(let task, let offset, let limit):
                        if pos < limit, let b = task.buffer, let pb = part.baseAddress {
                            (b.pointer + offset + pos).copyMemory(from: pb, byteCount: min(k, limit - pos))
                        }
                    case .discard, .discardFor: break
                    }
                    i += k
                } else if pos < p.paddedLength {
                    i += min(n - i, p.paddedLength - pos)
                } else {
                    let k = min(n - i, total - pos)
                    p.digestBytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: src[i..<(i + k)]))
                    i += k
                }
            }
            p.consumed += n
            rxStart += n
        }
        pending = p
        completePayload()
        return true
    }

    /// The whole PDU (header and data) is in: verify the data digest, then dispatch.
    private func completePayload() {
        guard let p = pending else { return }
        pending = nil
        defer { p.clear() }
        // Direct reads may have left digest bytes to fetch: they are consumed through the buffer path,
        // so by now p.consumed covers everything.
        if p.digestLength > 0 && p.dataLength > 0 {
            var crc: UInt32
            switch p.sink {
            case .scratch:
                var padded = p.scratch
                padded.append(contentsOf: [UInt8](repeating: 0, count: p.paddedLength - p.dataLength))
                crc = CRC32C.checksum(padded)
            case .buffer(let task, let offset, let limit):
                guard let b = task.buffer, limit >= p.dataLength else { crc = CRC32C.fromWire(p.digestBytes) ?? 0; break }
                // RFC 7143 §12.1: the data digest covers the data and its padding.
                let reg = CRC32C.update(CRC32C.initial, UnsafeRawBufferPointer(start: b.pointer + offset, count: p.dataLength))
                crc = CRC32C.finalize(CRC32C.update(reg, zeroBytes: p.paddedLength - p.dataLength))
            case .discard, .discardFor:
                // Data we drop anyway: its digest does not matter.
                crc = CRC32C.fromWire(p.digestBytes) ?? 0
            }
            if CRC32C.wireBytes(crc) != p.digestBytes {
                // RFC 7143 §7.8: data digest error → Reject (reason 0x02), the command is not executed.
                sendReject(reason: 0x02, bhs: p.bhs)
                if case .buffer(let task, _, _) = p.sink { abortTaskSilently(task) }
                return
            }
        }
        if ignoreCompletedPending { ignoreCompletedPending = false; return }
        dispatch(p.pdu, bhs: p.bhs, data: p.scratch, sink: p.sink, dataLength: p.dataLength)
    }

    // MARK: - Dispatch

    /// Decides where a PDU's data segment goes, before any of it is read.
    private func sinkForHeader(_ pdu: InitiatorPDU, bhs: [UInt8], dataLength: Int) -> DataSink {
        guard case .fullFeature = phase else { return .scratch }
        switch pdu {
        case .scsiCommand(let cmd):
            return beginSCSICommand(cmd, bhs: bhs, immediateDataLength: dataLength)
        case .dataOut(let d):
            return sinkForDataOut(d, bhs: bhs, dataLength: dataLength)
        default:
            // NOP-Out ping data, text and login payloads: collected, bounded by MaxRecvDataSegmentLength.
            return .scratch
        }
    }

    private func dispatch(_ pdu: InitiatorPDU, bhs: [UInt8], data: [UInt8], sink: DataSink, dataLength: Int) {
        switch phase {
        case .login:
            guard case .login(let req) = pdu else {
                // RFC 7143 §6.3: only Login Requests before the login completes; anything else ends it.
                logger.info("non-login PDU during login, closing")
                sendLoginFailure(statusClass: 0x02, detail: 0x0b, bhs: bhs)
                return
            }
            handleLogin(req, data: data)
        case .fullFeature:
            handleFullFeature(pdu, bhs: bhs, data: data, sink: sink, dataLength: dataLength)
        case .closing:
            return
        }
    }

    // MARK: - Login

    private func handleLogin(_ req: LoginRequest, data: [UInt8]) {
        let action = login.receive(req, data: data)
        switch action {
        case .respond(let resp, let payload):
            send(.loginResponse(resp), data: payload)
        case .fail(let resp, let payload):
            logger.info("login failed", metadata: [
                "status": "0x\(String(format2: resp.statusClass))\(String(format2: resp.statusDetail))",
                "reason": "\(login.failureReason ?? "-")"])
            send(.loginResponse(resp), data: payload)
            closeAfterFlush = true
            phase = .closing
            scheduleFlush()
        case .complete(let resp, let payload, let negotiated):
            completeLogin(resp, payload: payload, negotiated: negotiated, isid: req.isid)
        }
    }

    private func completeLogin(_ response: LoginResponse, payload: [UInt8], negotiated: SessionParameters, isid: UInt64) {
        var resp = response
        params = negotiated
        var tgt: Target?
        if negotiated.sessionType == .normal {
            guard let name = negotiated.targetName, let t = ctx.registry.target(named: name) else {
                sendLoginFailure(statusClass: 0x02, detail: 0x03, bhs: nil)
                return
            }
            tgt = t
            // IET MaxSessions (0 = unlimited).
            if t.config.maxSessions > 0 {
                let key = SessionKey(initiatorName: negotiated.initiatorName.lowercased(), isid: isid, targetName: t.name.lowercased())
                if ctx.registry.existingSession(key) == nil && ctx.registry.sessionCount(target: t.name) >= t.config.maxSessions {
                    logger.info("login refused: MaxSessions reached", metadata: ["iscsi.target": "\(t.name)"])
                    sendLoginFailure(statusClass: 0x03, detail: 0x02, bhs: nil)
                    return
                }
            }
        }
        target = tgt
        let (sid, newTSIH) = ctx.registry.allocateSessionID()
        sessionID = sid
        tsih = newTSIH
        resp.tsih = newTSIH
        statSN = login.statSN
        expCmdSN = resp.expCmdSN
        // IET QueuedCommands when the file sets it, else our default window.
        queueDepth = tgt.flatMap { $0.queuedCommands } ?? ctx.settings.defaultQueuedCommands
        if tgt == nil { queueDepth = 16 }
        maxCmdSN = expCmdSN &+ UInt32(queueDepth) &- 1
        resp.maxCmdSN = maxCmdSN
        logger[metadataKey: "iscsi.initiator"] = "\(negotiated.initiatorName)"
        if let t = tgt { logger[metadataKey: "iscsi.target"] = "\(t.name)" }
        logger[metadataKey: "iscsi.tsih"] = "\(newTSIH)"

        let finalResponse = resp
        let finish: () -> Void = { [weak self] in
            guard let self, !self.closed else { return }
            self.enterFullFeature(resp: finalResponse, payload: payload, negotiated: negotiated)
        }
        guard let t = tgt else { finish(); return }
        // RFC 7143 §6.3.5 session reinstatement: same InitiatorName + ISID, TSIH 0 → the old session goes
        // away after its in-flight I/O settles; no reset unit attention is raised for the new one.
        let key = SessionKey(initiatorName: negotiated.initiatorName.lowercased(), isid: isid, targetName: t.name.lowercased())
        sessionKey = key
        let me = LoopBound(self, loop: ctx.loop)
        let handle = SessionHandle(id: sid, tsih: newTSIH, shutdown: { reason, done in
            me.loop.execute {
                me.owned.shutdownAfterSettling(reason: reason, done: done)
            }
        })
        let info = SessionInfo(tid: t.tid, targetName: t.name, sid: (isid << 16) | UInt64(newTSIH), tsih: newTSIH,
                               initiatorName: negotiated.initiatorName, peer: "\(peer.host)",
                               headerDigest: negotiated.headerDigest, dataDigest: negotiated.dataDigest,
                               parameters: [])
        if let old = ctx.registry.register(key, handle: handle, info: info) {
            logger.info("session reinstatement: closing the previous session", metadata: ["old.tsih": "\(old.tsih)"])
            let loop = ctx.loop
            let finishBound = LoopBound(finish, loop: loop)
            old.shutdown("session reinstatement") {
                loop.execute { finishBound.owned() }
            }
        } else {
            finish()
        }
    }

    private func enterFullFeature(resp: LoginResponse, payload: [UInt8], negotiated: SessionParameters) {
        var resp = resp
        resp.expCmdSN = expCmdSN
        resp.maxCmdSN = maxCmdSN
        send(.loginResponse(resp), data: payload)
        // RFC 7143 §13.1: digests take effect after the Login Response that concludes the login.
        headerDigest = negotiated.headerDigest
        dataDigest = negotiated.dataDigest
        maxRecvDataSegment = Int(negotiated.maxRecvDataSegmentLength)
        let cap = target.flatMap { t in t.config.iscsiParameters["MaxXmitDataSegmentLength"].flatMap { Int($0) } } ?? ctx.settings.maxXmitDataSegmentLength
        maxXmitDataSegment = max(512, min(Int(negotiated.maxXmitDataSegmentLength), cap))
        phase = .fullFeature
        if let t = loginTimer { ctx.loop.cancel(t); loginTimer = nil }
        if let f = onLoginFinished { onLoginFinished = nil; f() }
        text = TextNegotiator(sessionType: negotiated.sessionType, parameters: negotiated, sendTargets: sendTargetsProvider())
        logger.info("login complete", metadata: [
            "session.type": "\(negotiated.sessionType)", "chap.user": "\(login.authenticatedUser ?? "-")",
            "hd": "\(negotiated.headerDigest)", "dd": "\(negotiated.dataDigest)",
            "mrdsl": "\(negotiated.maxRecvDataSegmentLength)", "mxdsl": "\(maxXmitDataSegment)",
            "mbl": "\(negotiated.maxBurstLength)", "fbl": "\(negotiated.firstBurstLength)",
            "initialr2t": "\(negotiated.initialR2T)", "immediatedata": "\(negotiated.immediateData)"])
        startNOPTimer()
    }

    private func sendTargetsProvider() -> @Sendable (String) -> [(name: String, addresses: [String])] {
        let registry = ctx.registry
        let initiator = params?.initiatorName ?? ""
        let peerHost = peer.host
        let localAddr = local
        let tpgt = ctx.settings.portalGroupTag
        let sessionTarget = target?.name
        return { which in
            let acl = registry.accessControl
            var out: [(name: String, addresses: [String])] = []
            for t in registry.allTargets {
                if which != "All" && which.lowercased() != t.name.lowercased() { continue }
                // In a normal session SendTargets reports only the session's target (RFC 7143 §12.3 / Appendix C).
                if let s = sessionTarget, s.lowercased() != t.name.lowercased() { continue }
                guard acl.initiatorAllowed(target: t.name, initiatorName: initiator, peerAddress: peerHost),
                      acl.targetAllowed(target: t.name, localAddress: localAddr.host) else { continue }
                // RFC 7143 Appendix C: TargetAddress=domainname[:port][,portal-group-tag]; the address the
                // client reached us on comes first, then the other portals targets.allow permits.
                let portals = PortalAddresses.advertised(incoming: localAddr, listeners: registry.listeners)
                    .filter { $0 == localAddr || acl.targetAllowed(target: t.name, localAddress: $0.host) }
                let addresses = portals.map { a -> String in
                    let host = a.isIPv6 ? "[\(a.host)]" : a.host
                    return "\(host):\(a.port),\(tpgt)"
                }
                out.append((name: t.name, addresses: addresses))
            }
            return out
        }
    }

    private func sendLoginFailure(statusClass: UInt8, detail: UInt8, bhs: [UInt8]?) {
        var isid: UInt64 = 0
        var itt: UInt32 = 0
        if let bhs, bhs.count >= 48 {
            isid = bhs[8..<14].reduce(0) { ($0 << 8) | UInt64($1) }
            itt = bhs[16..<20].reduce(0) { ($0 << 8) | UInt32($1) }
        }
        let resp = LoginResponse(transit: false, currentStage: 0, nextStage: 0, isid: isid, tsih: 0,
                                 initiatorTaskTag: itt, statSN: login.statSN, expCmdSN: 0, maxCmdSN: 0,
                                 statusClass: statusClass, statusDetail: detail)
        send(.loginResponse(resp), data: [])
        closeAfterFlush = true
        phase = .closing
        scheduleFlush()
    }

    // MARK: - Full feature phase

    enum Admission { case accept, hold, drop }

    /// RFC 7143 §4.2.2.1: CmdSN window. Immediate PDUs bypass it; non-immediate ones must fall within
    /// [ExpCmdSN, MaxCmdSN] (serial arithmetic, RFC 1982); outside → silently ignored.
    private func admit(cmdSN: UInt32, immediate: Bool) -> Admission {
        if immediate { return .accept }
        if cmdSN == expCmdSN { return .accept }
        let ahead = cmdSN &- expCmdSN
        let window = maxCmdSN &- expCmdSN
        if ahead > 0 && ahead <= window && ahead < 0x8000_0000 {
            return heldCommands.count < queueDepth ? .hold : .drop
        }
        logger.debug("CmdSN outside the window, ignored", metadata: ["cmdsn": "\(cmdSN)", "expcmdsn": "\(expCmdSN)", "maxcmdsn": "\(maxCmdSN)"])
        return .drop
    }

    /// Consumes a CmdSN slot and releases held commands whose turn came.
    private func advanceCmdSN() {
        expCmdSN &+= 1
        commandsInFlight += 1
        while !heldCommands.isEmpty, let next = heldCommands.removeValue(forKey: expCmdSN) {
            expCmdSN &+= 1
            commandsInFlight += 1
            next()
        }
    }

    /// A non-immediate command got its answer: the window slides (MaxCmdSN never decreases).
    private func commandFinished() {
        if commandsInFlight > 0 {
            commandsInFlight -= 1
            maxCmdSN &+= 1
        }
    }

    private func handleFullFeature(_ pdu: InitiatorPDU, bhs: [UInt8], data: [UInt8], sink: DataSink, dataLength: Int) {
        switch pdu {
        case .scsiCommand:
            switch sink {
            case .buffer(let task, _, let limit):
                task.dataOutReceived += min(dataLength, limit)
                applyAdmission(task)
            case .discardFor(let task):
                applyAdmission(task)
            case .scratch, .discard:
                break // rejected or dropped at header time
            }
        case .dataOut(let d):
            guard case .buffer(let task, _, _) = sink else { return }
            dataOutArrived(task, header: d, length: dataLength)
        case .nopOut(let nop):
            handleNOPOut(nop, data: data)
        case .text(let req):
            runInOrder(cmdSN: req.cmdSN, immediate: req.immediate) { [weak self] in self?.handleText(req, data: data, bhs: bhs) }
        case .logout(let req):
            runInOrder(cmdSN: req.cmdSN, immediate: req.immediate) { [weak self] in self?.handleLogout(req) }
        case .taskManagement(let req):
            runInOrder(cmdSN: req.cmdSN, immediate: req.immediate) { [weak self] in self?.handleTaskManagement(req) }
        case .snack:
            // RFC 7143 §11.16: SNACK needs ERL > 0, which we never negotiate.
            sendReject(reason: 0x05, bhs: bhs)
        case .login:
            // RFC 7143 §6.3: a Login Request in full feature phase is a protocol error.
            sendReject(reason: 0x04, bhs: bhs)
        }
    }

    private func runInOrder(cmdSN: UInt32, immediate: Bool, _ work: @escaping () -> Void) {
        switch admit(cmdSN: cmdSN, immediate: immediate) {
        case .accept:
            if !immediate { advanceCmdSN() }
            work()
            if !immediate { commandFinished() }
        case .hold:
            heldCommands[cmdSN] = { [weak self] in
                work()
                self?.commandFinished()
            }
        case .drop:
            break
        }
    }

    // MARK: SCSI commands

    private var unitCache: (target: Target, lun: UInt16?, unit: LogicalUnit?)?

    private func beginSCSICommand(_ cmd: SCSICommandPDU, bhs: [UInt8], immediateDataLength: Int) -> DataSink {
        // (No `let params` binding: copying SessionParameters' strings per command showed in profiles.)
        guard burst.negotiated, let target else {
            // SCSI commands in a discovery session: RFC 7143 §6.2 — protocol error.
            sendReject(reason: 0x04, bhs: bhs)
            return .discard
        }
        let admission = admit(cmdSN: cmd.cmdSN, immediate: cmd.immediate)
        if admission == .drop { return .discard }
        let lunNumber = SAMLUN.decode(cmd.lun)
        let unit: LogicalUnit?
        // The LUN of the previous command, resolved against the same Target object (a reload swaps the object),
        // saves a dictionary lookup per command.
        if let cached = unitCache, cached.target === target, cached.lun == lunNumber {
            unit = cached.unit
        } else {
            unit = lunNumber.flatMap { target.units[$0] }
            unitCache = (target, lunNumber, unit)
        }
        let task = SCSITask(pdu: cmd, lunNumber: lunNumber, unit: unit, load: ctx.load)
        // One probe for the tag check and the insertion (nothing below returns before the task is set up).
        if tasks.insertIfAbsent(task, for: cmd.initiatorTaskTag) != nil {
            // RFC 7143 §11.17.1: a second task with a tag in use → Reject "task in progress".
            sendReject(reason: 0x07, bhs: bhs)
            return .discard
        }
        lastCommandExpStatSN = cmd.expStatSN
        do {
            if let unit {
                task.parsed = try unit.parse(cmd.cdb)
            } else {
                task.parsed = try CommandParser.parseForMissingUnit(cmd.cdb)
            }
        } catch {
            task.sense = error
        }
        let edtl = Int(cmd.expectedDataTransferLength)
        // Bounded buffering per connection: a command whose data would exceed the budget is answered
        // TASK SET FULL (SAM-5 §5.3.3) and the initiator retries later.
        if let parsed = task.parsed, parsed.transferLength > 0 {
            let need = Int(parsed.transferLength)
            if need > ctx.settings.maxBufferedBytesPerConnection || need > IOBufferPool.maxBufferSize {
                // A single command larger than the whole budget can never run: refuse it instead of
                // allocating (the parser bounds READ/WRITE by the Block Limits maximum already).
                task.sense = .invalidFieldInCDB
                task.parsed = nil
            } else if bytesCommitted + need > ctx.settings.maxBufferedBytesPerConnection && bytesCommitted > 0 {
                task.statusOnly = .taskSetFull
                task.parsed = nil
            } else {
                task.committedBytes = need
                bytesCommitted += need
            }
        }
        if let parsed = task.parsed, parsed.direction == .toTarget {
            if !cmd.write && parsed.transferLength > 0 {
                // The CDB moves data to us but the W bit is clear: nothing will come.
                task.sense = .invalidFieldInCDB
            } else {
                task.dataOutLength = min(edtl, Int(parsed.transferLength))
                if task.dataOutLength > 0 {
                    task.buffer = ctx.pool.take(capacity: Int(parsed.transferLength))
                }
            }
        }
        // RFC 7143 §13.13/§13.14: unsolicited data (immediate + Data-Out before any R2T) is limited to
        // FirstBurstLength and only allowed when InitialR2T=No (immediate data needs ImmediateData=Yes).
        let firstBurst = burst.firstBurstLength
        let initialR2T = burst.initialR2T
        if cmd.final || initialR2T {
            task.nextR2TOffset = min(immediateDataLength, task.dataOutLength)
        } else {
            task.nextR2TOffset = min(firstBurst, task.dataOutLength)
        }
        task.unsolicitedLimit = initialR2T ? immediateDataLength : firstBurst
        // RFC 7143 §13.11/§13.14: immediate data needs ImmediateData=Yes and never exceeds FirstBurstLength.
        if immediateDataLength > 0 && (!burst.immediateData || immediateDataLength > firstBurst) {
            logger.info("immediate data not allowed or beyond FirstBurstLength", metadata: [
                "iscsi.itt": "\(cmd.initiatorTaskTag)", "length": "\(immediateDataLength)", "fbl": "\(firstBurst)"])
            task.sense = .dataPhaseError
            task.dataOutLength = 0
            if let b = task.buffer { task.buffer = nil; ctx.pool.give(b) }
        }
        // The CmdSN window decision is made now (it picks the data sink) but applied once the whole PDU
        // arrived with a good data digest: a command discarded for a digest error keeps its CmdSN, so the
        // initiator's retry with the same CmdSN is accepted (RFC 7143 §7.8, §7.2.1).
        task.admission = admission
        if immediateDataLength > 0, task.dataOutLength > 0, task.sense == nil, task.buffer != nil {
            // Immediate data beyond what we accept (EDTL or the CDB) is dropped.
            return .buffer(task, offset: 0, limit: min(immediateDataLength, task.dataOutLength))
        }
        // No immediate data, or data we will not use (error already decided): continue with the task
        // once the PDU is consumed.
        return .discardFor(task)
    }

    /// Applies the CmdSN window decision taken at header time (RFC 7143 §4.2.2.1).
    private func applyAdmission(_ task: SCSITask) {
        let cmd = task.pdu
        switch task.admission {
        case .accept:
            if !cmd.immediate { advanceCmdSN() }
            task.admitted = true
            progress(task)
        case .hold:
            heldCommands[cmd.cmdSN] = { [weak self, weak task] in
                guard let self, let task else { return }
                task.admitted = true
                self.progress(task)
            }
        case .drop, .none:
            releaseTask(task)
        }
    }

    private func sinkForDataOut(_ d: DataOut, bhs: [UInt8], dataLength: Int) -> DataSink {
        let task: SCSITask?
        if d.targetTransferTag == reservedTag {
            task = tasks[d.initiatorTaskTag]
        } else if let itt = r2tTags[d.targetTransferTag] {
            task = tasks[itt]
        } else {
            task = nil
        }
        // RFC 7143 §11.7: Data-Out for an unknown task (e.g. one we already failed) is dropped.
        guard let task, task.sense == nil, task.buffer != nil else { return .discard }
        let offset = Int(d.bufferOffset)
        guard offset >= 0, dataLength <= task.dataOutLength, offset <= task.dataOutLength - dataLength else {
            // RFC 7143 §11.7.6: data beyond the expected length → protocol error.
            sendReject(reason: 0x09, bhs: bhs)
            return .discard
        }
        if d.targetTransferTag == reservedTag {
            // Unsolicited Data-Out must stay within FirstBurstLength.
            guard burst.negotiated, !burst.initialR2T, offset + dataLength <= burst.firstBurstLength else {
                sendReject(reason: 0x04, bhs: bhs)
                return .discard
            }
            // RFC 7143 §11.7.5: DataSN counts the Data-Out PDUs of each sequence from 0.
            guard d.dataSN == task.expectedDataOutSN else {
                dataSequenceError(task, got: d.dataSN, expected: task.expectedDataOutSN)
                return .discard
            }
            task.expectedDataOutSN &+= 1
        } else if var r = task.outstandingR2Ts[d.targetTransferTag] {
            guard d.dataSN == r.nextDataSN else {
                dataSequenceError(task, got: d.dataSN, expected: r.nextDataSN)
                return .discard
            }
            r.nextDataSN &+= 1
            task.outstandingR2Ts[d.targetTransferTag] = r
        }
        return .buffer(task, offset: offset, limit: dataLength)
    }

    /// A Data-Out out of sequence at ERL 0: the command cannot complete correctly; it ends with
    /// CHECK CONDITION (ABORTED COMMAND, DATA PHASE ERROR) and its remaining data is dropped.
    private func dataSequenceError(_ task: SCSITask, got: UInt32, expected: UInt32) {
        logger.info("Data-Out DataSN out of sequence", metadata: [
            "iscsi.itt": "\(task.itt)", "datasn": "\(got)", "expected": "\(expected)"])
        task.sense = .dataPhaseError
        for ttt in task.outstandingR2Ts.keys { r2tTags[ttt] = nil }
        task.outstandingR2Ts = [:]
        progress(task)
    }

    private func dataOutArrived(_ task: SCSITask, header d: DataOut, length: Int) {
        task.dataOutReceived += length
        if d.targetTransferTag != reservedTag, var r = task.outstandingR2Ts[d.targetTransferTag] {
            r.received += length
            if d.final || r.received >= r.length {
                task.outstandingR2Ts[d.targetTransferTag] = nil
                r2tTags[d.targetTransferTag] = nil
            } else {
                task.outstandingR2Ts[d.targetTransferTag] = r
            }
        }
        progress(task)
    }

    /// Moves a task forward: errors answered, R2Ts issued, execution started when all data is in.
    private func progress(_ task: SCSITask) {
        guard task.admitted, !task.executing, !task.aborted, !closed else { return }
        if let status = task.statusOnly {
            sendResponse(task, status: status.rawValue, senseData: [], residual: (false, false, 0))
            return
        }
        if let sense = task.sense {
            finishWithSense(task, sense)
            return
        }
        guard let parsed = task.parsed else { return }
        if parsed.direction == .toTarget && !task.dataComplete {
            issueR2Ts(task)
            return
        }
        execute(task, parsed)
    }

    /// RFC 7143 §11.8: solicit the remaining data, at most MaxBurstLength per R2T and MaxOutstandingR2T at a time.
    private func issueR2Ts(_ task: SCSITask) {
        guard burst.negotiated else { return }
        let maxBurst = burst.maxBurstLength
        let maxOutstanding = burst.maxOutstandingR2T
        // Unsolicited data still to come: wait for it before soliciting beyond it.
        while task.outstandingR2Ts.count < maxOutstanding && task.nextR2TOffset < task.dataOutLength {
            let offset = task.nextR2TOffset
            let length = min(maxBurst, task.dataOutLength - offset)
            var ttt = nextTTT
            nextTTT &+= 1
            if nextTTT == reservedTag { nextTTT = 1 }
            if ttt == reservedTag { ttt = 1 }
            task.outstandingR2Ts[ttt] = (offset: offset, length: length, received: 0, nextDataSN: 0)
            r2tTags[ttt] = task.itt
            task.nextR2TOffset += length
            let r2t = R2T(lun: task.pdu.lun, initiatorTaskTag: task.itt, targetTransferTag: ttt, statSN: statSN,
                          expCmdSN: expCmdSN, maxCmdSN: maxCmdSN, r2tSN: task.r2tSN,
                          bufferOffset: UInt32(offset), desiredDataTransferLength: UInt32(length))
            task.r2tSN &+= 1
            send(.r2t(r2t), data: [])
        }
    }

    private func execute(_ task: SCSITask, _ parsed: ParsedCommand) {
        // SAM-5 §5.14 / SPC-4 §5.x: a pending unit attention is reported once, on the first command other
        // than INQUIRY, REPORT LUNS and REQUEST SENSE.
        if !unitAttentions.isEmpty, let lun = task.lunNumber, let ua = unitAttentions[lun] {
            let opcode = task.pdu.cdb.first ?? 0
            if opcode != 0x12 && opcode != 0x03 {
                unitAttentions[lun] = nil
                if opcode != 0xa0 {
                    finishWithSense(task, ua)
                    return
                }
            }
        }
        task.executing = true
        ioInFlight += 1
        let context = executionContext
        context.pendingSense = pendingSenseForRequestSense
        if case .emulated(.requestSense) = parsed.command { pendingSenseForRequestSense = nil }
        // Queue depth 1 on this loop: the command's completion is expected within microseconds (fast
        // storage) — poll for it instead of sleeping (EventLoop.pollBriefly; backs off when it arrives later).
        // "Waiting on this command alone": the only live task on the loop, and the initiator had seen every
        // earlier response when it sent it (ExpStatSN = StatSN) — a client that keeps 32 commands queued but
        // lags in reading responses does not qualify.
        if ctx.load.activeTasks == 1 && task.pdu.expStatSN == statSN {
            ctx.loop.pollBriefly(for: Connection.completionPollNanoseconds)
        }
        // The executor holds the connection strongly until the command completes (no weak-reference traffic
        // per command), and for READ / WRITE in the I/O engine's closure: no closure of our own per command.
        ctx.executor.execute(task, parsed: parsed, context: context, sink: self)
    }

    /// The executor's outcome for `task` (SCSICompletionSink).
    func scsiCommandCompleted(_ task: SCSITask, _ outcome: SCSIOutcome) {
        ioInFlight -= 1
        defer { checkSettled() }
        if closed || task.aborted || isClosing {
            releaseTask(task)
            return
        }
        deliver(task, outcome)
    }

    /// The executor's view of this session, built once (and again when a reload replaces the target).
    private var executionContext: ExecutionContext {
        if let c = cachedExecutionContext { return c }
        let c = ExecutionContext(nexus: nexus, lunList: target?.lunList ?? [], units: target?.units ?? [:])
        if params != nil { cachedExecutionContext = c }
        return c
    }
    private var cachedExecutionContext: ExecutionContext?

    /// This connection's I_T nexus (SAM-5 §4.6), computed once per session (it is on the per-command path).
    var nexus: NexusID {
        if let n = cachedNexus { return n }
        let n = NexusID(initiatorName: params?.initiatorName ?? "", isid: params?.isid ?? 0,
                        targetName: target?.name ?? "", portalGroupTag: ctx.settings.portalGroupTag)
        if params != nil { cachedNexus = n }
        return n
    }
    private var cachedNexus: NexusID?

    /// Turns the SCSI outcome into Data-In / SCSI Response PDUs.
    private func deliver(_ task: SCSITask, _ outcome: SCSIOutcome) {
        switch outcome {
        case .good(let dataIn, let implied):
            if let dataIn, dataIn.bytes.count > 0 {
                let edtl = Int(task.pdu.expectedDataTransferLength)
                let n = min(dataIn.bytes.count, edtl)
                sendDataIn(task, data: UnsafeRawBufferPointer(rebasing: dataIn.bytes[0..<n]), owner: dataIn.owner, cdbBytes: implied)
            } else {
                finishGood(task, dataLength: 0, cdbBytes: implied)
            }
        case .checkCondition(let reason):
            finishWithSense(task, reason)
        case .status(let status):
            sendResponse(task, status: status.rawValue, senseData: [], residual: (false, false, 0))
        }
    }

    // MARK: responses

    /// Residual for a command that moved `actual` bytes of what the CDB implies, against EDTL
    /// (RFC 7143 §11.4.5: overflow when the CDB wanted more than EDTL, underflow when less).
    private func residual(edtl: Int, cdbBytes: Int) -> (overflow: Bool, underflow: Bool, count: UInt32) {
        if cdbBytes > edtl { return (true, false, UInt32(clamping: cdbBytes - edtl)) }
        if cdbBytes < edtl { return (false, true, UInt32(clamping: edtl - cdbBytes)) }
        return (false, false, 0)
    }

    /// Data-In PDUs (RFC 7143 §11.7) with phase collapse: status in the final Data-In.
    private func sendDataIn(_ task: SCSITask, data: UnsafeRawBufferPointer, owner: AnyObject, cdbBytes: Int) {
        guard burst.negotiated else { return }
        let edtl = Int(task.pdu.expectedDataTransferLength)
        if data.count == 0 {
            finishGood(task, dataLength: 0, cdbBytes: cdbBytes)
            return
        }
        let r = residual(edtl: edtl, cdbBytes: cdbBytes)
        let maxSeg = maxXmitDataSegment
        let maxBurst = max(maxSeg, burst.maxBurstLength)
        var offset = 0
        var burstUsed = 0
        while offset < data.count {
            let n = min(maxSeg, data.count - offset, maxBurst - burstUsed)
            let last = offset + n >= data.count
            burstUsed += n
            let endOfBurst = last || burstUsed >= maxBurst
            if endOfBurst { burstUsed = 0 }
            var pdu = DataIn(final: endOfBurst, statusPresent: last, status: 0, lun: task.pdu.lun,
                             initiatorTaskTag: task.itt, statSN: 0, expCmdSN: expCmdSN, maxCmdSN: maxCmdSN,
                             dataSN: task.dataSN, bufferOffset: UInt32(offset))
            task.dataSN &+= 1
            let slice = UnsafeRawBufferPointer(rebasing: data[offset..<(offset + n)])
            if last {
                if !task.pdu.immediate { commandFinished() }
                pdu.maxCmdSN = maxCmdSN
                pdu.statSN = statSN
                statSN &+= 1
                pdu.overflow = r.overflow
                pdu.underflow = r.underflow
                pdu.residualCount = r.count
                tasks.remove(task.itt)
            }
            sendData(.dataIn(pdu), data: slice, owner: owner, sentTask: last ? task : nil)
            offset += n
        }
    }

    private func finishGood(_ task: SCSITask, dataLength: Int, cdbBytes: Int? = nil) {
        let edtl = Int(task.pdu.expectedDataTransferLength)
        let implied = cdbBytes ?? Int(task.parsed?.transferLength ?? 0)
        let r = residual(edtl: edtl, cdbBytes: implied)
        sendResponse(task, status: SCSIStatus.good.rawValue, senseData: [], residual: r)
    }

    private func finishWithSense(_ task: SCSITask, _ reason: SenseReason) {
        let sense = SenseData.build(reason, format: .fixed)
        pendingSenseForRequestSense = nil
        sendResponse(task, status: SCSIStatus.checkCondition.rawValue, senseData: sense, residual: (false, false, 0))
    }

    private func sendResponse(_ task: SCSITask, status: UInt8, senseData: [UInt8], residual r: (overflow: Bool, underflow: Bool, count: UInt32)) {
        forgetTask(task)
        for ttt in task.outstandingR2Ts.keys { r2tTags[ttt] = nil }
        task.outstandingR2Ts = [:]
        if !task.pdu.immediate && task.admitted { commandFinished() }
        let resp = SCSIResponsePDU(overflow: r.overflow, underflow: r.underflow, response: 0, status: status,
                                   initiatorTaskTag: task.itt, statSN: statSN, expCmdSN: expCmdSN, maxCmdSN: maxCmdSN,
                                   expDataSN: task.dataSN &+ task.r2tSN, residualCount: r.count)
        statSN &+= 1
        var data: [UInt8] = []
        if !senseData.isEmpty {
            // RFC 7143 §11.4.7: SenseLength (2 bytes) then the sense data.
            data = [UInt8(senseData.count >> 8), UInt8(senseData.count & 0xff)] + senseData
        }
        send(.scsiResponse(resp), data: data)
        releaseBuffers(task)
    }

    private func releaseBuffers(_ task: SCSITask) {
        if task.committedBytes > 0 {
            bytesCommitted -= task.committedBytes
            task.committedBytes = 0
        }
        if let b = task.buffer {
            task.buffer = nil
            ctx.pool.give(b)
        }
    }

    /// Removes `task` from the ITT table if it is still the entry for its tag (one probe).
    private func forgetTask(_ task: SCSITask) {
        tasks.remove(task)
    }

    private func releaseTask(_ task: SCSITask) {
        forgetTask(task)
        for ttt in task.outstandingR2Ts.keys { r2tTags[ttt] = nil }
        releaseBuffers(task)
    }

    private func abortTaskSilently(_ task: SCSITask) {
        task.aborted = true
        if !task.executing { releaseTask(task) }
        if !task.pdu.immediate && task.admitted { commandFinished() }
    }

    // MARK: other PDUs

    private func handleNOPOut(_ nop: NOPOut, data: [UInt8]) {
        if nop.initiatorTaskTag == reservedTag {
            // RFC 7143 §11.18: answer to our NOP-In ping; no response.
            if nop.targetTransferTag == pingTTT, let t = nopTimeoutTimer {
                ctx.loop.cancel(t)
                nopTimeoutTimer = nil
            }
            return
        }
        runInOrder(cmdSN: nop.cmdSN, immediate: nop.immediate) { [weak self] in
            guard let self else { return }
            // RFC 7143 §11.19: NOP-In echoes the ping data, TTT 0xffffffff, StatSN advances.
            let resp = NOPIn(lun: nop.lun, initiatorTaskTag: nop.initiatorTaskTag, targetTransferTag: reservedTag,
                             statSN: self.statSN, expCmdSN: self.expCmdSN, maxCmdSN: self.maxCmdSN)
            self.statSN &+= 1
            self.send(.nopIn(resp), data: Array(data.prefix(self.maxXmitDataSegment)))
        }
    }

    private func handleText(_ req: TextRequest, data: [UInt8], bhs: [UInt8]) {
        guard var negotiator = text else { return }
        let action = negotiator.receive(req, data: data, statSN: statSN, expCmdSN: expCmdSN, maxCmdSN: maxCmdSN)
        text = negotiator
        switch action {
        case .respond(var resp, let payload):
            resp.statSN = statSN
            statSN &+= 1
            resp.expCmdSN = expCmdSN
            resp.maxCmdSN = maxCmdSN
            send(.textResponse(resp), data: payload)
        case .reject(let reason):
            sendReject(reason: reason, bhs: bhs)
        }
    }

    private func handleLogout(_ req: LogoutRequest) {
        // RFC 7143 §11.14: reason 0 closes the session, 1 the connection (same thing with one connection),
        // 2 (remove for recovery) needs ERL 2 → "connection recovery not supported".
        let response: UInt8 = req.reasonCode == 2 ? 2 : 0
        let after = { [weak self] in
            guard let self, !self.closed else { return }
            let resp = LogoutResponse(response: response, initiatorTaskTag: req.initiatorTaskTag, statSN: self.statSN,
                                      expCmdSN: self.expCmdSN, maxCmdSN: self.maxCmdSN, time2Wait: 0, time2Retain: 0)
            self.statSN &+= 1
            self.send(.logoutResponse(resp), data: [])
            if response == 0 {
                self.logger.info("logout", metadata: ["reason": "\(req.reasonCode)"])
                self.closeAfterFlush = true
                self.phase = .closing
                self.unregisterSession()
                self.scheduleFlush()
            }
        }
        // Outstanding I/O settles before the response (RFC 7143 §11.14.1: in-flight commands are completed or aborted).
        whenSettled(after)
    }

    private func handleTaskManagement(_ req: TaskManagementRequest) {
        let function = req.function & 0x7f
        var affected: [SCSITask] = []
        var response: UInt8 = 0
        switch function {
        case 1: // ABORT TASK
            if let t = tasks[req.referencedTaskTag] {
                affected = [t]
            } else {
                // RFC 7143 §11.6.1: a task that already completed → "Function complete" (it's no longer there).
                response = 0
            }
        case 2, 4: // ABORT TASK SET, CLEAR TASK SET
            affected = tasks.allTasks.filter { $0.pdu.lun == req.lun }
        case 5: // LOGICAL UNIT RESET
            if let lun = SAMLUN.decode(req.lun), target?.units[lun] != nil {
                affected = tasks.allTasks.filter { $0.pdu.lun == req.lun }
            } else {
                response = 2 // LUN does not exist
            }
        case 6, 7: // TARGET WARM / COLD RESET
            affected = tasks.allTasks
        case 3: // CLEAR ACA: no ACA support → function not supported
            response = 5
        case 8: // TASK REASSIGN needs ERL 2
            response = 4
        default:
            response = 255
        }
        // SAM-5 §7.x: a LOGICAL UNIT RESET / TARGET RESET establishes BUS DEVICE RESET FUNCTION OCCURRED
        // for the other I_T nexuses of the affected logical units.
        if response == 0, function == 5 || function == 6 || function == 7, let t = target {
            let me = nexus
            let others = ctx.registry.nexuses(forTarget: t.name, portalGroupTag: ctx.settings.portalGroupTag)
            let units: [LogicalUnit] = function == 5 ? SAMLUN.decode(req.lun).flatMap { t.units[$0] }.map { [$0] } ?? [] : Array(t.units.values)
            for u in units { u.state.logicalUnitReset(by: me, knownNexuses: others) }
        }
        for t in affected {
            t.aborted = true
            tasks.remove(t)
            for ttt in t.outstandingR2Ts.keys { r2tTags[ttt] = nil }
            if !t.executing { releaseBuffers(t) }
            if !t.pdu.immediate && t.admitted { commandFinished() }
        }
        let respond = { [weak self] in
            guard let self, !self.closed else { return }
            let resp = TaskManagementResponse(response: response, initiatorTaskTag: req.initiatorTaskTag, statSN: self.statSN,
                                              expCmdSN: self.expCmdSN, maxCmdSN: self.maxCmdSN)
            self.statSN &+= 1
            self.send(.taskManagementResponse(resp), data: [])
        }
        logger.info("task management", metadata: ["function": "\(function)", "affected": "\(affected.count)", "response": "\(response)"])
        // In-flight I/O of aborted tasks settles before the response.
        whenSettled(respond)
    }

    private func whenSettled(_ work: @escaping () -> Void) {
        if ioInFlight == 0 { work() } else { settleWaiters.append(work) }
    }

    private func checkSettled() {
        guard ioInFlight == 0, !settleWaiters.isEmpty else { return }
        let waiters = settleWaiters
        settleWaiters = []
        for w in waiters { w() }
    }

    private func sendReject(reason: UInt8, bhs: [UInt8]) {
        let r = Reject(reason: reason, statSN: statSN, expCmdSN: expCmdSN, maxCmdSN: maxCmdSN)
        statSN &+= 1
        logger.debug("reject", metadata: ["reason": "\(reason)"])
        send(.reject(r), data: bhs)
    }

    // MARK: NOP-In pings (IET NOPInterval / NOPTimeout)

    private func startNOPTimer() {
        guard let t = target, t.config.nopInterval > 0 else { return }
        let interval = UInt64(t.config.nopInterval)
        var timeout = UInt64(t.config.nopTimeout)
        // IET: "If value is set to zero or if it exceeds NOPInterval, it will be set to NOPInterval".
        if timeout == 0 || timeout > interval { timeout = interval }
        nopTimer = ctx.loop.schedule(after: interval * 1_000_000_000) { [weak self] in
            guard let self, !self.closed, case .fullFeature = self.phase else { return }
            if self.nopTimeoutTimer == nil {
                self.pingTTT = self.nextTTT
                self.nextTTT &+= 1
                if self.nextTTT == reservedTag { self.nextTTT = 1 }
                // RFC 7143 §11.19: target ping, ITT 0xffffffff, StatSN not advanced.
                let ping = NOPIn(lun: 0, initiatorTaskTag: reservedTag, targetTransferTag: self.pingTTT,
                                 statSN: self.statSN, expCmdSN: self.expCmdSN, maxCmdSN: self.maxCmdSN)
                self.send(.nopIn(ping), data: [])
                self.nopTimeoutTimer = self.ctx.loop.schedule(after: timeout * 1_000_000_000) { [weak self] in
                    guard let self, !self.closed else { return }
                    self.logger.info("NOP-In ping timed out, closing", metadata: ["timeout.s": "\(timeout)"])
                    self.close(reason: "NOP timeout")
                }
            }
            self.startNOPTimer()
        }
    }

    // MARK: - Sending

    private func send(_ pdu: TargetPDU, data: [UInt8]) {
        if data.isEmpty {
            enqueue(pdu, data: nil, owner: nil, sentTask: nil)
        } else {
            let owned = OwnedBytes(data)
            enqueue(pdu, data: owned.bytes, owner: owned, sentTask: nil)
        }
    }

    /// Queues a PDU whose data lives in `owner`'s memory; `sentTask`'s buffers are released once it is sent.
    private func sendData(_ pdu: TargetPDU, data: UnsafeRawBufferPointer, owner: AnyObject, sentTask: SCSITask?) {
        enqueue(pdu, data: data, owner: owner, sentTask: sentTask)
    }

    private func enqueue(_ pdu: TargetPDU, data: UnsafeRawBufferPointer?, owner: AnyObject?, sentTask: SCSITask?) {
        guard !closed else { return }
        let length = data?.count ?? 0
        let item = tx.makePDU()
        // The BHS is encoded straight into the PDU's slot (no per-PDU array).
        pdu.encodeBHS(into: item.storage, dataSegmentLength: length)
        item.headerLength = BHS.size
        if headerDigest {
            item.headerLength += PDUEncoder.writeHeaderDigest(item.storage, headerCount: BHS.size)
        }
        if let data, length > 0 {
            let crc = dataDigest ? CRC32C.update(CRC32C.initial, data) : CRC32C.initial
            item.trailerLength = PDUEncoder.writeTrailer(into: item.trailer, dataLength: length, runningDataCRC: crc,
                                                         dataDigest: dataDigest)
        }
        item.data = data
        item.owner = owner
        item.sentTask = sentTask
        tx.append(item)
        scheduleFlush()
    }

    /// Batches all PDUs queued during this loop iteration into one writev.
    private func scheduleFlush() {
        guard !flushScheduled, !closed else { return }
        flushScheduled = true
        ctx.loop.deferToEndOfIteration(flushHook)
    }

    /// The end-of-iteration flush, built once per connection (no closure allocated per loop iteration).
    private lazy var flushHook: () -> Void = { [weak self] in
        guard let self else { return }
        self.flushScheduled = false
        self.flush()
    }

    /// ExpStatSN of the last SCSI command received (queue-depth-1 detection for polling).
    private var lastCommandExpStatSN: UInt32 = 0

    /// How long an idle loop polls for the next command when no command is outstanding on the loop (capped by
    /// `--poll-usec`).
    static let nextCommandPollNanoseconds: UInt64 = .max
    /// How long an idle loop polls for the completion of its only outstanding command (capped by `--poll-usec`).
    static let completionPollNanoseconds: UInt64 = .max

    private func flush() {
        guard !closed else { return }
        do {
            let done = try tx.flush(fd: fd) { task in releaseBuffers(task) }
            wantWritable = !done
            if done && closeAfterFlush { close(reason: "closed after final response"); return }
            // Queue depth 1: the initiator has nothing outstanding and usually sends its next command within
            // microseconds — poll for it instead of sleeping (EventLoop.pollBriefly; off unless enabled).
            // The initiator had seen every response but the one just sent when it sent its last command: it is
            // running at queue depth 1 and will send the next command as soon as it reads this response.
            if done && ctx.load.activeTasks == 0 && isFullFeature && lastCommandExpStatSN &+ 1 == statSN {
                ctx.loop.pollBriefly(for: Connection.nextCommandPollNanoseconds)
            }
            // Back-pressure: a peer that does not read its responses stops being read from
            // (bounded per-connection buffering), and resumes once the queue drained.
            if readPaused && tx.queuedBytes <= ctx.settings.maxQueuedBytesPerConnection / 2 {
                readPaused = false
                updateInterest()
                processBuffered()
            } else {
                updateInterest()
            }
        } catch {
            close(reason: "write failed: \(error)")
        }
    }

    private var readPaused = false
    private var currentInterest: EpollEvents = [.readable, .readHangup]

    private func updateInterest() {
        guard let r = registration, !closed else { return }
        var events: EpollEvents = [.readHangup]
        if !readPaused { events.insert(.readable) }
        if wantWritable { events.insert(.writable) }
        if events != currentInterest {
            currentInterest = events
            try? ctx.loop.modify(r, events: events)
        }
    }

    // MARK: - Reload

    /// The configuration was reloaded: pick up the new definition of our target. A changed LUN set raises
    /// REPORTED LUNS DATA HAS CHANGED (SPC-4 §7.x, ASC 3F/0E) on this I_T nexus; a removed target closes.
    func targetReloaded(_ targets: [String: Target]) {
        guard let current = target, !closed else { return }
        guard let replacement = targets[current.name.lowercased()] else {
            close(reason: "target removed by reload")
            return
        }
        if replacement === current { return }
        let changed = Set(current.lunList) != Set(replacement.lunList)
            || current.units.contains { lun, u in replacement.units[lun] !== u }
        target = replacement
        unitCache = nil  // do not keep the old Target (and its open backing stores) alive
        cachedExecutionContext = nil
        if changed {
            for lun in replacement.lunList { unitAttentions[lun] = .reportedLUNsDataChanged }
            logger.info("LUN inventory changed by reload: unit attention queued")
        }
    }

    // MARK: - Closing

    /// Session reinstatement or forced removal: stop taking input, let in-flight I/O finish, then close.
    func shutdownAfterSettling(reason: String, done: @escaping @Sendable () -> Void) {
        if closed { done(); return }
        phase = .closing
        if let r = registration { ctx.loop.deregister(r); registration = nil }
        logger.info("session shutting down", metadata: ["reason": "\(reason)"])
        whenSettled { [weak self] in
            self?.close(reason: reason)
            done()
        }
    }

    private func unregisterSession() {
        if sessionKey != nil, let t = target {
            // I_T nexus loss (SAM-5 §6.3.4; logout too): per-nexus LU state (SPC-2 reservation,
            // pending unit attentions) goes with it.
            let me = nexus
            for u in t.units.values { u.state.nexusLost(me) }
            SCSIExecutor.forgetCopyResults(nexus: me)
        }
        if let key = sessionKey {
            ctx.registry.unregister(key, id: sessionID)
            sessionKey = nil
        }
    }

    func addCloseHandler(_ h: @escaping () -> Void) { onClosed.append(h) }

    func close(reason: String) {
        guard !closed else { return }
        closed = true
        phase = .closing
        if let r = registration { ctx.loop.deregister(r); registration = nil }
        for t in [loginTimer, nopTimer, nopTimeoutTimer].compactMap({ $0 }) { ctx.loop.cancel(t) }
        Socket.close(fd)
        unregisterSession()
        for t in tasks.allTasks {
            t.aborted = true
            if !t.executing { releaseBuffers(t) }
        }
        tasks.removeAll()
        heldCommands = [:]
        tx.discardAll()
        if let p = pending, case .buffer(let task, _, _) = p.sink, !task.executing { releaseBuffers(task) }
        pending = nil
        if let f = onLoginFinished { onLoginFinished = nil; f() }
        logger.info("connection closed", metadata: ["reason": "\(reason)"])
        ctx.connections[id] = nil
        let handlers = onClosed
        onClosed = []
        for h in handlers { h() }
        // Waiters (logout/TMF) are dropped; reinstatement waiters are completed by shutdownAfterSettling.
        if ioInFlight == 0 {
            let w = settleWaiters
            settleWaiters = []
            for x in w { x() }
        }
    }

}

extension String {
    init(format2 value: UInt8) {
        let hex = String(value, radix: 16)
        self = hex.count < 2 ? "0" + hex : hex
    }
}
