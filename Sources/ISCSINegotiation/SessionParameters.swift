/// RFC 7143 §13.21 SessionType.
public enum SessionType: String, Sendable, Hashable {
    case normal = "Normal"
    case discovery = "Discovery"
}

/// The negotiated result of a login: what the session and connection use in full feature phase.
public struct SessionParameters: Sendable, Hashable {
    /// Normal or discovery session.
    public var sessionType: SessionType
    /// The initiator's iSCSI name.
    public var initiatorName: String
    /// The initiator's alias, if declared.
    public var initiatorAlias: String?
    /// The target name (normal sessions; nil for discovery unless the initiator sent one).
    public var targetName: String?
    /// The ISID of the login (low 48 bits).
    public var isid: UInt64
    /// The target portal group tag that served the login.
    public var targetPortalGroupTag: UInt16
    /// What we receive per PDU: our declared MaxRecvDataSegmentLength, or 8192 when the login
    /// never reached a stage where we declared it (RFC 7143 §13.12 default).
    public var maxRecvDataSegmentLength: UInt32
    /// What we may send per PDU: the initiator's declared MaxRecvDataSegmentLength (8192 if it
    /// declared none, RFC 7143 §13.12), capped by the policy's `maxXmitDataSegmentLength`.
    public var maxXmitDataSegmentLength: UInt32
    /// Negotiated MaxBurstLength.
    public var maxBurstLength: UInt32
    /// Negotiated FirstBurstLength (never above `maxBurstLength`).
    public var firstBurstLength: UInt32
    /// Negotiated InitialR2T.
    public var initialR2T: Bool
    /// Negotiated ImmediateData.
    public var immediateData: Bool
    /// Negotiated MaxOutstandingR2T.
    public var maxOutstandingR2T: UInt32
    /// Negotiated MaxConnections.
    public var maxConnections: UInt32
    /// Negotiated DefaultTime2Wait (seconds).
    public var defaultTime2Wait: UInt32
    /// Negotiated DefaultTime2Retain (seconds).
    public var defaultTime2Retain: UInt32
    /// Negotiated ErrorRecoveryLevel.
    public var errorRecoveryLevel: UInt32
    /// Negotiated DataPDUInOrder.
    public var dataPDUInOrder: Bool
    /// Negotiated DataSequenceInOrder.
    public var dataSequenceInOrder: Bool
    /// CRC32C header digest in use.
    public var headerDigest: Bool
    /// CRC32C data digest in use.
    public var dataDigest: Bool

    /// The RFC 7143 defaults for a session of the given type.
    public init(sessionType: SessionType, initiatorName: String, initiatorAlias: String? = nil,
                targetName: String? = nil, isid: UInt64 = 0, targetPortalGroupTag: UInt16 = 1) {
        self.sessionType = sessionType
        self.initiatorName = initiatorName
        self.initiatorAlias = initiatorAlias
        self.targetName = targetName
        self.isid = isid
        self.targetPortalGroupTag = targetPortalGroupTag
        self.maxRecvDataSegmentLength = KeyTable.defaultMaxRecvDataSegmentLength
        self.maxXmitDataSegmentLength = KeyTable.defaultMaxRecvDataSegmentLength
        self.maxBurstLength = 262_144
        self.firstBurstLength = 65_536
        self.initialR2T = true
        self.immediateData = true
        self.maxOutstandingR2T = 1
        self.maxConnections = 1
        self.defaultTime2Wait = 2
        self.defaultTime2Retain = 20
        self.errorRecoveryLevel = 0
        self.dataPDUInOrder = true
        self.dataSequenceInOrder = true
        self.headerDigest = false
        self.dataDigest = false
    }
}
