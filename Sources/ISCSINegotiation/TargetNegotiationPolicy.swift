/// What the target offers and accepts during negotiation. Values come from `ietd.conf` (see
/// `fromIETParameters(_:)`); the defaults suit open-iscsi and throughput.
public struct TargetNegotiationPolicy: Sendable, Hashable {
    /// What we can receive per PDU (declared to the initiator). RFC 7143 §13.12: 512...16777215.
    public var maxRecvDataSegmentLength: UInt32 = 262_144
    /// IET-local `MaxXmitDataSegmentLength`: a cap on what we send, applied on top of the
    /// initiator's declared MaxRecvDataSegmentLength.
    public var maxXmitDataSegmentLength: UInt32 = 262_144
    /// Our MaxBurstLength (Minimum).
    public var maxBurstLength: UInt32 = 1_048_576
    /// Our FirstBurstLength (Minimum).
    public var firstBurstLength: UInt32 = 262_144
    /// Our InitialR2T (OR).
    public var initialR2T: Bool = false
    /// Our ImmediateData (AND).
    public var immediateData: Bool = true
    /// Our MaxOutstandingR2T (Minimum).
    public var maxOutstandingR2T: UInt32 = 1
    /// Our MaxConnections (Minimum). One connection per session.
    public var maxConnections: UInt32 = 1
    /// Our DefaultTime2Wait (Maximum).
    public var defaultTime2Wait: UInt32 = 2
    /// Our DefaultTime2Retain (Minimum). 0: nothing is retained at ERL 0.
    public var defaultTime2Retain: UInt32 = 0
    /// Our ErrorRecoveryLevel (Minimum). Only 0 is implemented.
    public var errorRecoveryLevel: UInt32 = 0
    /// Our DataPDUInOrder (OR). Only `true` is implemented.
    public var dataPDUInOrder: Bool = true
    /// Our DataSequenceInOrder (OR). Only `true` is implemented.
    public var dataSequenceInOrder: Bool = true
    /// Acceptable header digests ("None", "CRC32C"). RFC 7143 §13.1 (list): we answer the first
    /// value of the initiator's list that is in ours, so the default accepts both and an initiator
    /// that asks for digests gets them. Without "None" the digest is required (ietd.conf
    /// `HeaderDigest CRC32C`).
    public var headerDigest: [String] = Self.defaultDigests
    /// Acceptable data digests ("None", "CRC32C"); as `headerDigest`.
    public var dataDigest: [String] = Self.defaultDigests

    /// The default digest list: CRC32C or None, whichever the initiator prefers.
    public static let defaultDigests = ["CRC32C", "None"]

    /// Creates the default policy.
    public init() {}

    /// Creates a policy with explicit values.
    public init(maxRecvDataSegmentLength: UInt32 = 262_144, maxXmitDataSegmentLength: UInt32 = 262_144,
                maxBurstLength: UInt32 = 1_048_576, firstBurstLength: UInt32 = 262_144,
                initialR2T: Bool = false, immediateData: Bool = true, maxOutstandingR2T: UInt32 = 1,
                maxConnections: UInt32 = 1, defaultTime2Wait: UInt32 = 2, defaultTime2Retain: UInt32 = 0,
                errorRecoveryLevel: UInt32 = 0, dataPDUInOrder: Bool = true, dataSequenceInOrder: Bool = true,
                headerDigest: [String] = defaultDigests, dataDigest: [String] = defaultDigests) {
        self.maxRecvDataSegmentLength = maxRecvDataSegmentLength
        self.maxXmitDataSegmentLength = maxXmitDataSegmentLength
        self.maxBurstLength = maxBurstLength; self.firstBurstLength = firstBurstLength
        self.initialR2T = initialR2T; self.immediateData = immediateData
        self.maxOutstandingR2T = maxOutstandingR2T; self.maxConnections = maxConnections
        self.defaultTime2Wait = defaultTime2Wait; self.defaultTime2Retain = defaultTime2Retain
        self.errorRecoveryLevel = errorRecoveryLevel; self.dataPDUInOrder = dataPDUInOrder
        self.dataSequenceInOrder = dataSequenceInOrder; self.headerDigest = headerDigest
        self.dataDigest = dataDigest
    }

    /// IET target-stanza keys that are not negotiation parameters; `fromIETParameters` ignores them.
    public static let ietNonNegotiationKeys: Set<String> = [
        "nopinterval", "noptimeout", "wthreads", "queuedcommands", "maxsessions", "type", "alias",
        "incominguser", "outgoinguser", "lun",
    ]

    /// Builds a policy from IET target parameters (`ietd.conf` §1.5 keys, matched
    /// case-insensitively as IET's `strcasecmp` does). Out-of-range values are clamped, values we
    /// cannot implement are forced (ERL 0, in-order data, one connection, DefaultTime2Retain 0),
    /// and each adjustment produces a one-line warning.
    /// - Parameter parameters: key → value as written in the config.
    /// - Returns: the policy and the warnings.
    public static func fromIETParameters(_ parameters: [String: String]) -> (Self, [String]) {
        var policy = Self()
        var warnings: [String] = []
        func number(_ key: String, _ value: String, _ range: ClosedRange<UInt64>) -> UInt32? {
            guard let parsed = TextValue.number(value) else {
                warnings.append("\(key): '\(value)' is not a number; using the default")
                return nil
            }
            let clamped = min(max(parsed, range.lowerBound), range.upperBound)
            if clamped != parsed {
                warnings.append("\(key): \(parsed) is outside \(range.lowerBound)...\(range.upperBound); using \(clamped)")
            }
            return UInt32(clamping: clamped)
        }
        func boolean(_ key: String, _ value: String) -> Bool? {
            switch value.lowercased() {
            case "yes": return true
            case "no": return false
            default:
                warnings.append("\(key): '\(value)' is not Yes or No; using the default")
                return nil
            }
        }
        func digests(_ key: String, _ value: String) -> [String]? {
            var result: [String] = []
            for item in value.split(separator: ",") {
                let trimmed = item.trimmingSpaces()
                switch trimmed.lowercased() {
                case "none": result.append("None")
                case "crc32c": result.append("CRC32C")
                default: warnings.append("\(key): unknown digest '\(trimmed)' ignored")
                }
            }
            if result.isEmpty {
                warnings.append("\(key): no usable digest; using None")
                return nil
            }
            return result
        }
        let dataRange = KeyTable.dataSegmentLengthRange
        for (rawKey, rawValue) in parameters.sorted(by: { $0.key < $1.key }) {
            let value = rawValue.trimmingSpaces()
            switch rawKey.lowercased() {
            case "maxrecvdatasegmentlength":
                if let v = number(rawKey, value, dataRange) { policy.maxRecvDataSegmentLength = v }
            case "maxxmitdatasegmentlength":
                if let v = number(rawKey, value, dataRange) { policy.maxXmitDataSegmentLength = v }
            case "maxburstlength":
                if let v = number(rawKey, value, dataRange) { policy.maxBurstLength = v }
            case "firstburstlength":
                if let v = number(rawKey, value, dataRange) { policy.firstBurstLength = v }
            case "initialr2t":
                if let v = boolean(rawKey, value) { policy.initialR2T = v }
            case "immediatedata":
                if let v = boolean(rawKey, value) { policy.immediateData = v }
            case "maxoutstandingr2t":
                if let v = number(rawKey, value, 1...65535) { policy.maxOutstandingR2T = v }
            case "maxconnections":
                if let v = number(rawKey, value, 1...65535), v != 1 {
                    warnings.append("\(rawKey): only 1 connection per session is supported; using 1")
                }
            case "defaulttime2wait":
                if let v = number(rawKey, value, 0...3600) { policy.defaultTime2Wait = v }
            case "defaulttime2retain":
                if let v = number(rawKey, value, 0...3600), v != 0 {
                    warnings.append("\(rawKey): only 0 is supported at ErrorRecoveryLevel 0; using 0")
                }
            case "errorrecoverylevel":
                if let v = number(rawKey, value, 0...2), v != 0 {
                    warnings.append("\(rawKey): only ErrorRecoveryLevel 0 is supported; using 0")
                }
            case "datapduinorder":
                if let v = boolean(rawKey, value), !v {
                    warnings.append("\(rawKey): only Yes is supported; using Yes")
                }
            case "datasequenceinorder":
                if let v = boolean(rawKey, value), !v {
                    warnings.append("\(rawKey): only Yes is supported; using Yes")
                }
            case "headerdigest":
                if let v = digests(rawKey, value) { policy.headerDigest = v }
            case "datadigest":
                if let v = digests(rawKey, value) { policy.dataDigest = v }
            case "ifmarker", "ofmarker":
                if let v = boolean(rawKey, value), v {
                    warnings.append("\(rawKey): markers are obsolete (RFC 7143 §13.25); using No")
                }
            case "ifmarkint", "ofmarkint":
                warnings.append("\(rawKey): markers are obsolete (RFC 7143 §13.25); ignored")
            default:
                if !ietNonNegotiationKeys.contains(rawKey.lowercased()) {
                    warnings.append("\(rawKey): unknown parameter ignored")
                }
            }
        }
        // RFC 7143 §13.14: FirstBurstLength MUST NOT exceed MaxBurstLength.
        if policy.firstBurstLength > policy.maxBurstLength {
            warnings.append("FirstBurstLength: \(policy.firstBurstLength) exceeds MaxBurstLength \(policy.maxBurstLength); using \(policy.maxBurstLength)")
            policy.firstBurstLength = policy.maxBurstLength
        }
        return (policy, warnings)
    }
}

extension StringProtocol {
    /// Trims ASCII spaces and tabs (no Foundation).
    func trimmingSpaces() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let first = firstIndex(where: { !isSpace($0) }),
              let last = lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(self[first...last])
    }
}
