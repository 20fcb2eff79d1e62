import Glibc
import LinuxIO

/// Addresses to advertise in SendTargets (RFC 7143 Appendix C / IET usr/target.c): the address the
/// initiator reached us on first, then the other listening portals; a wildcard listener stands for every
/// non-loopback interface address of its family.
enum PortalAddresses {
    static func advertised(incoming: SocketAddress, listeners: [SocketAddress], interfaceAddresses: [SocketAddress] = interfaces()) -> [SocketAddress] {
        var out: [SocketAddress] = [incoming]
        func add(_ a: SocketAddress) {
            if !out.contains(where: { $0.host == a.host && $0.port == a.port }) { out.append(a) }
        }
        for l in listeners {
            let wildcard = l.host == "0.0.0.0" || l.host == "::"
            if wildcard {
                for ifa in interfaceAddresses where ifa.isIPv6 == l.isIPv6 && !isLoopback(ifa.host) {
                    add(SocketAddress(host: ifa.host, port: l.port, isIPv6: ifa.isIPv6))
                }
            } else if !isLoopback(l.host) || isLoopback(incoming.host) {
                add(l)
            }
        }
        return out
    }

    static func isLoopback(_ host: String) -> Bool {
        host.hasPrefix("127.") || host == "::1"
    }

    /// Numeric addresses of the host's interfaces (IPv6 link-local skipped: they need a zone id).
    static func interfaces() -> [SocketAddress] {
        var head: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&head) == 0 else { return [] }
        defer { freeifaddrs(head) }
        var out: [SocketAddress] = []
        var cursor = head
        while let ifa = cursor {
            defer { cursor = ifa.pointee.ifa_next }
            guard let sa = ifa.pointee.ifa_addr else { continue }
            var buf = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
            switch Int32(sa.pointee.sa_family) {
            case AF_INET:
                sa.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { sin in
                    var a = sin.pointee.sin_addr
                    _ = inet_ntop(AF_INET, &a, &buf, socklen_t(buf.count))
                }
                out.append(SocketAddress(host: String(cString: buf), port: 0, isIPv6: false))
            case AF_INET6:
                var linkLocal = false
                sa.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { sin6 in
                    var a = sin6.pointee.sin6_addr
                    linkLocal = withUnsafeBytes(of: &a) { $0[0] == 0xfe && ($0[1] & 0xc0) == 0x80 }
                    _ = inet_ntop(AF_INET6, &a, &buf, socklen_t(buf.count))
                }
                if !linkLocal { out.append(SocketAddress(host: String(cString: buf), port: 0, isIPv6: true)) }
            default:
                continue
            }
        }
        return out
    }
}
