import CShims
import Glibc

/// A numeric IPv4 or IPv6 socket address.
///
/// `description` is `"1.2.3.4:3260"` or `"[::1]:3260"` (RFC 7143 §13.9 TargetAddress style).
public struct SocketAddress: Hashable, Sendable, CustomStringConvertible {
    /// Numeric host (`"10.0.0.1"`, `"fe80::1%eth0"`), without brackets.
    public var host: String
    /// Port in host byte order.
    public var port: UInt16
    /// True for an IPv6 address.
    public var isIPv6: Bool

    /// Creates an address from its parts (no validation; ``Socket/listenTCP(host:port:backlog:)`` validates).
    public init(host: String, port: UInt16, isIPv6: Bool) {
        self.host = host
        self.port = port
        self.isIPv6 = isIPv6
    }

    public var description: String {
        isIPv6 ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    /// Decodes a kernel `sockaddr` (AF_INET or AF_INET6); nil for other families.
    init?(_ address: UnsafePointer<sockaddr>, length: socklen_t) {
        switch Int32(address.pointee.sa_family) {
        case AF_INET:
            guard Int(length) >= MemoryLayout<sockaddr_in>.size else { return nil }
            let sin = UnsafeRawPointer(address).loadUnaligned(as: sockaddr_in.self)
            var addr = sin.sin_addr
            guard let text = Self.ntop(AF_INET, &addr) else { return nil }
            self.init(host: text, port: UInt16(bigEndian: sin.sin_port), isIPv6: false)
        case AF_INET6:
            guard Int(length) >= MemoryLayout<sockaddr_in6>.size else { return nil }
            let sin6 = UnsafeRawPointer(address).loadUnaligned(as: sockaddr_in6.self)
            var addr = sin6.sin6_addr
            guard var text = Self.ntop(AF_INET6, &addr) else { return nil }
            if sin6.sin6_scope_id != 0 {
                var name = [CChar](repeating: 0, count: Int(IF_NAMESIZE) + 1)
                if if_indextoname(sin6.sin6_scope_id, &name) != nil {
                    text += "%" + String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                } else {
                    text += "%\(sin6.sin6_scope_id)"
                }
            }
            self.init(host: text, port: UInt16(bigEndian: sin6.sin6_port), isIPv6: true)
        default:
            return nil
        }
    }

    private static func ntop<A>(_ family: Int32, _ addr: inout A) -> String? {
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        let ok = withUnsafePointer(to: &addr) { inet_ntop(family, $0, &buffer, socklen_t(buffer.count)) } != nil
        guard ok else { return nil }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Encodes a numeric host and port into a `sockaddr_storage`.
    ///
    /// Accepts dotted IPv4, IPv6 with or without brackets and with an optional `%scope` (interface name or
    /// index); `""` and `"*"` mean 0.0.0.0. No name resolution is done (config input must be numeric).
    /// - Throws: `SystemError(EINVAL, "inet_pton")` for anything else.
    static func encode(host: String, port: UInt16) throws(SystemError) -> (sockaddr_storage, socklen_t, isIPv6: Bool) {
        var text = host
        if text.isEmpty || text == "*" { text = "0.0.0.0" }
        if text.hasPrefix("[") && text.hasSuffix("]") && text.count >= 2 {
            text = String(text.dropFirst().dropLast())
        }
        var storage = sockaddr_storage()
        var sin = sockaddr_in()
        if inet_pton(AF_INET, text, &sin.sin_addr) == 1 {
            sin.sin_family = sa_family_t(AF_INET)
            sin.sin_port = port.bigEndian
            withUnsafeMutableBytes(of: &storage) { $0.storeBytes(of: sin, as: sockaddr_in.self) }
            return (storage, socklen_t(MemoryLayout<sockaddr_in>.size), false)
        }
        var scope: UInt32 = 0
        if let percent = text.firstIndex(of: "%") {
            let name = String(text[text.index(after: percent)...])
            text = String(text[..<percent])
            if let index = UInt32(name) {
                scope = index
            } else {
                scope = if_nametoindex(name)
                guard scope != 0 else { throw SystemError(errno: ENODEV, call: "if_nametoindex") }
            }
        }
        var sin6 = sockaddr_in6()
        guard inet_pton(AF_INET6, text, &sin6.sin6_addr) == 1 else {
            throw SystemError(errno: EINVAL, call: "inet_pton")
        }
        sin6.sin6_family = sa_family_t(AF_INET6)
        sin6.sin6_port = port.bigEndian
        sin6.sin6_scope_id = scope
        withUnsafeMutableBytes(of: &storage) { $0.storeBytes(of: sin6, as: sockaddr_in6.self) }
        return (storage, socklen_t(MemoryLayout<sockaddr_in6>.size), true)
    }
}
