@testable import ISCSITarget
import LinuxIO
import Testing

/// SendTargets advertises the portal the initiator used first, then the others (IET usr/target.c).
@Suite struct PortalAddressTests {
    let ifaces = [SocketAddress(host: "127.0.0.1", port: 0, isIPv6: false),
                  SocketAddress(host: "192.0.2.10", port: 0, isIPv6: false),
                  SocketAddress(host: "2001:db8::10", port: 0, isIPv6: true)]

    @Test func incomingAddressComesFirst() {
        let incoming = SocketAddress(host: "192.0.2.10", port: 3260, isIPv6: false)
        let out = PortalAddresses.advertised(incoming: incoming, listeners: [SocketAddress(host: "0.0.0.0", port: 3260, isIPv6: false)], interfaceAddresses: ifaces)
        #expect(out.first == incoming)
        #expect(out.count == 1)
    }

    @Test func wildcardListenerExpandsToNonLoopbackInterfacesOfItsFamily() {
        let incoming = SocketAddress(host: "127.0.0.1", port: 3260, isIPv6: false)
        let out = PortalAddresses.advertised(incoming: incoming,
                                             listeners: [SocketAddress(host: "0.0.0.0", port: 3260, isIPv6: false),
                                                         SocketAddress(host: "::", port: 3260, isIPv6: true)],
                                             interfaceAddresses: ifaces)
        #expect(out.map(\.host) == ["127.0.0.1", "192.0.2.10", "2001:db8::10"])
    }

    @Test func loopbackListenersAreNotAdvertisedToRemoteInitiators() {
        let incoming = SocketAddress(host: "192.0.2.10", port: 3260, isIPv6: false)
        let out = PortalAddresses.advertised(incoming: incoming,
                                             listeners: [SocketAddress(host: "127.0.0.1", port: 3261, isIPv6: false)],
                                             interfaceAddresses: ifaces)
        #expect(out == [incoming])
    }
}
