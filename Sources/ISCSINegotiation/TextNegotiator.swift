import ISCSIWire

/// What to do with a full-feature-phase Text Request.
public enum TextAction: Sendable, Hashable {
    /// Send this Text Response (the caller already supplied StatSN/ExpCmdSN/MaxCmdSN).
    case respond(TextResponse, data: [UInt8])
    /// Send a Reject PDU with this reason (RFC 7143 §11.17.1: 0x04 protocol error, 0x09 invalid
    /// PDU field) carrying the request's BHS.
    case reject(reason: UInt8)
}

/// Full feature phase Text Request handling (RFC 7143 §6.2, §11.10-11.11, §13.3 SendTargets),
/// including long responses split over several Text Responses with a Target Transfer Tag.
public struct TextNegotiator: Sendable {
    /// RFC 7143 §11.17.1 reason codes used here.
    public static let rejectProtocolError: UInt8 = 0x04
    /// RFC 7143 §11.17.1: invalid PDU field.
    public static let rejectInvalidPDUField: UInt8 = 0x09
    /// Bound on initiator text accumulated over C-bit continuations.
    public static let maxAccumulatedText = 65_536

    /// The session's parameters. A Text Request may re-declare MaxRecvDataSegmentLength or
    /// InitiatorAlias (RFC 7143 §13.12, §13.7: "Use: ALL"); read this after each `receive`.
    public private(set) var parameters: SessionParameters
    private let sessionType: SessionType
    private let sendTargets: @Sendable (_ which: String) -> [(name: String, addresses: [String])]

    /// The response text still to deliver, and the tag the initiator must echo to get it.
    private var pending: [UInt8] = []
    private var pendingTag: UInt32 = reservedTag
    private var pendingITT: UInt32 = reservedTag
    /// Initiator text accumulated over C=1 requests.
    private var accumulated: [UInt8] = []
    private var nextTag: UInt32 = 1

    /// Creates a negotiator for one session.
    /// - Parameters:
    ///   - sessionType: discovery or normal.
    ///   - parameters: the login's result.
    ///   - sendTargets: lists targets for "All" or one target name, each with its
    ///     `ip:port,tpgt` addresses (already filtered by the access rules for this initiator).
    public init(sessionType: SessionType, parameters: SessionParameters,
                sendTargets: @escaping @Sendable (_ which: String) -> [(name: String, addresses: [String])]) {
        self.sessionType = sessionType
        self.parameters = parameters
        self.sendTargets = sendTargets
    }

    /// Handles one Text Request.
    /// - Parameters:
    ///   - request: the decoded header.
    ///   - data: its data segment.
    ///   - statSN, expCmdSN, maxCmdSN: the sequence numbers for the response.
    /// - Returns: the response, or a reject reason.
    public mutating func receive(_ request: TextRequest, data: [UInt8], statSN: UInt32, expCmdSN: UInt32,
                                 maxCmdSN: UInt32) -> TextAction {
        // RFC 7143 §11.10.2: a Text Request with C=1 MUST have F=0.
        if request.continueFlag && request.final {
            return .reject(reason: Self.rejectProtocolError)
        }
        if request.targetTransferTag != reservedTag {
            // Continuing an exchange we opened: the TTT and ITT must be the ones we handed out
            // (RFC 7143 §11.10.4).
            guard request.targetTransferTag == pendingTag, request.initiatorTaskTag == pendingITT else {
                return .reject(reason: Self.rejectInvalidPDUField)
            }
            if !pending.isEmpty {
                // RFC 7143 §11.11: the initiator fetches the rest of our text with empty requests.
                guard data.isEmpty, !request.continueFlag else { return .reject(reason: Self.rejectProtocolError) }
                return nextChunk(request, statSN: statSN, expCmdSN: expCmdSN, maxCmdSN: maxCmdSN)
            }
        } else {
            // RFC 7143 §11.10.4: TTT 0xffffffff starts a new exchange; drop any unfinished one.
            pending = []
            pendingTag = reservedTag
            pendingITT = reservedTag
            accumulated = []
        }

        if request.continueFlag {
            // RFC 7143 §11.10.2: more text follows; answer with an empty response.
            guard accumulated.count + data.count <= Self.maxAccumulatedText else {
                accumulated = []
                return .reject(reason: Self.rejectProtocolError)
            }
            accumulated.append(contentsOf: data)
            let tag = allocateTag()
            pendingTag = tag
            pendingITT = request.initiatorTaskTag
            let response = TextResponse(final: false, continueFlag: false, lun: request.lun,
                                        initiatorTaskTag: request.initiatorTaskTag, targetTransferTag: tag,
                                        statSN: statSN, expCmdSN: expCmdSN, maxCmdSN: maxCmdSN)
            return .respond(response, data: [])
        }

        var text = accumulated
        text.append(contentsOf: data)
        accumulated = []
        let pairs: [(key: String, value: String)]
        do {
            pairs = try TextCodec.decode(text)
        } catch {
            return .reject(reason: Self.rejectProtocolError)
        }
        var answer: [(key: String, value: String)] = []
        for (name, value) in pairs {
            answer.append(contentsOf: respond(to: name, value: value))
        }
        pending = TextCodec.encode(answer)
        pendingITT = request.initiatorTaskTag
        pendingTag = allocateTag()
        return nextChunk(request, statSN: statSN, expCmdSN: expCmdSN, maxCmdSN: maxCmdSN)
    }

    /// Sends the next part of the pending response: F=0/C=1 with the tag while more remains,
    /// F=1 (if the initiator's request was final) with TTT 0xffffffff at the end.
    private mutating func nextChunk(_ request: TextRequest, statSN: UInt32, expCmdSN: UInt32, maxCmdSN: UInt32) -> TextAction {
        let limit = Int(max(parameters.maxXmitDataSegmentLength, 512))
        let count = min(pending.count, limit)
        let chunk = Array(pending.prefix(count))
        pending.removeFirst(count)
        let more = !pending.isEmpty
        // RFC 7143 §11.11.1: F=1 ends the exchange and then the TTT is 0xffffffff; C=1 (more text)
        // requires F=0.
        let final = !more && request.final
        let tag = final ? reservedTag : pendingTag
        let response = TextResponse(final: final, continueFlag: more, lun: request.lun,
                                    initiatorTaskTag: request.initiatorTaskTag, targetTransferTag: tag,
                                    statSN: statSN, expCmdSN: expCmdSN, maxCmdSN: maxCmdSN)
        if !more {
            pending = []
            if final {
                pendingTag = reservedTag
                pendingITT = reservedTag
            }
        }
        return .respond(response, data: chunk)
    }

    private mutating func allocateTag() -> UInt32 {
        let tag = nextTag
        nextTag &+= 1
        if nextTag == reservedTag { nextTag = 1 }
        return tag
    }

    /// The answer pairs for one key in full feature phase.
    private mutating func respond(to name: String, value: String) -> [(key: String, value: String)] {
        guard let descriptor = KeyTable.descriptor(for: name) else {
            return [(name, "NotUnderstood")]
        }
        switch descriptor.key {
        case .sendTargets:
            return sendTargetsResponse(value)
        case .maxRecvDataSegmentLength:
            // RFC 7143 §13.12: "Use: ALL", declarative; applies to what we send from now on.
            guard let number = TextValue.number(value), KeyTable.dataSegmentLengthRange.contains(number) else {
                return [(name, "Reject")]
            }
            parameters.maxXmitDataSegmentLength = UInt32(number)
            return []
        case .initiatorAlias:
            parameters.initiatorAlias = value
            return []
        default:
            // Login-only keys (IO/LO), security keys and target-only keys cannot be negotiated in
            // full feature phase.
            return [(name, "Reject")]
        }
    }

    /// RFC 7143 §13.3 and Appendix C (SendTargets operation).
    private func sendTargetsResponse(_ value: String) -> [(key: String, value: String)] {
        let targets: [(name: String, addresses: [String])]
        switch sessionType {
        case .discovery:
            // A discovery session lists every target the initiator may use ("All"), or one.
            guard !value.isEmpty else { return [(TextKey.sendTargets.rawValue, "Reject")] }
            targets = sendTargets(value)
        case .normal:
            // In a normal session only the session's own target is reported: for an empty value,
            // "All", or its own name.
            guard let own = parameters.targetName else { return [] }
            if value.isEmpty || value == "All" || value == own {
                targets = sendTargets(own).filter { $0.name == own }
            } else {
                targets = []
            }
        }
        var out: [(key: String, value: String)] = []
        for target in targets {
            out.append((TextKey.targetName.rawValue, target.name))
            for address in target.addresses {
                out.append((TextKey.targetAddress.rawValue, address))
            }
        }
        return out
    }
}
