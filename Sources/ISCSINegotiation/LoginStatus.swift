/// A Login Response status (RFC 7143 §11.13.5): class and detail.
public struct LoginStatus: Sendable, Hashable, CustomStringConvertible {
    /// Status-Class (0 success, 1 redirection, 2 initiator error, 3 target error).
    public var statusClass: UInt8
    /// Status-Detail.
    public var statusDetail: UInt8

    /// Creates a status.
    public init(statusClass: UInt8, statusDetail: UInt8) {
        self.statusClass = statusClass
        self.statusDetail = statusDetail
    }

    /// 0x0000 Success.
    public static let success = Self(statusClass: 0x00, statusDetail: 0x00)
    /// 0x0101 Target moved temporarily.
    public static let targetMovedTemporarily = Self(statusClass: 0x01, statusDetail: 0x01)
    /// 0x0102 Target moved permanently.
    public static let targetMovedPermanently = Self(statusClass: 0x01, statusDetail: 0x02)
    /// 0x0200 Initiator error (miscellaneous).
    public static let initiatorError = Self(statusClass: 0x02, statusDetail: 0x00)
    /// 0x0201 Authentication failure.
    public static let authenticationFailure = Self(statusClass: 0x02, statusDetail: 0x01)
    /// 0x0202 Authorization failure.
    public static let authorizationFailure = Self(statusClass: 0x02, statusDetail: 0x02)
    /// 0x0203 Target not found.
    public static let notFound = Self(statusClass: 0x02, statusDetail: 0x03)
    /// 0x0204 Target removed.
    public static let targetRemoved = Self(statusClass: 0x02, statusDetail: 0x04)
    /// 0x0205 Unsupported version.
    public static let unsupportedVersion = Self(statusClass: 0x02, statusDetail: 0x05)
    /// 0x0206 Too many connections.
    public static let tooManyConnections = Self(statusClass: 0x02, statusDetail: 0x06)
    /// 0x0207 Missing parameter.
    public static let missingParameter = Self(statusClass: 0x02, statusDetail: 0x07)
    /// 0x0208 Can't include in session.
    public static let cannotIncludeInSession = Self(statusClass: 0x02, statusDetail: 0x08)
    /// 0x0209 Session type not supported.
    public static let sessionTypeNotSupported = Self(statusClass: 0x02, statusDetail: 0x09)
    /// 0x020a Session does not exist.
    public static let sessionDoesNotExist = Self(statusClass: 0x02, statusDetail: 0x0a)
    /// 0x020b Invalid request type during login.
    public static let invalidDuringLogin = Self(statusClass: 0x02, statusDetail: 0x0b)
    /// 0x0300 Target error (miscellaneous).
    public static let targetError = Self(statusClass: 0x03, statusDetail: 0x00)
    /// 0x0301 Service unavailable.
    public static let serviceUnavailable = Self(statusClass: 0x03, statusDetail: 0x01)
    /// 0x0302 Out of resources.
    public static let outOfResources = Self(statusClass: 0x03, statusDetail: 0x02)

    /// The 16-bit form, class in the high byte (0x0203).
    public var code: UInt16 { UInt16(statusClass) << 8 | UInt16(statusDetail) }

    public var description: String {
        let hex = String(code, radix: 16)
        return "0x" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
    }
}
