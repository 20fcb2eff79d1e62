// libFuzzer entry: ietd.conf and the access files (IETConfig ConfigParser, AccessControl).
//
// Input: byte 0 picks what the rest is: 0-1 ietd.conf text, 2 initiators.allow, 3 targets.allow,
// 4 initiators.deny (remaining values: ietd.conf). Invalid UTF-8 is repaired as `String(decoding:)`
// does, like ConfigFiles.read refuses it; the parsers must diagnose, never trap. A parsed
// configuration must be consistent: unique target names and LUNs, sizes that fit.
import IETConfig

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConfig(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    guard let start, count >= 1 else { return 0 }
    let input = Array(UnsafeBufferPointer(start: start, count: count))
    let text = String(decoding: input[1...], as: UTF8.self)
    switch input[0] % 8 {
    case 2, 3, 4:
        let which = input[0] % 8
        let (acl, _) = AccessControl.parse(initiatorsAllow: which == 2 ? text : nil, initiatorsDeny: which == 4 ? text : nil,
                                          targetsAllow: which == 3 ? text : nil, directory: "/etc/iet")
        for name in ["iqn.2001-04.com.example:storage.disk1", "", "ALL", "iqn.x"] {
            for peer in ["192.0.2.7", "::1", "10.0.0.1", "fe80::1%eth0", "", "not-an-address"] {
                _ = acl.initiatorAllowed(target: name, initiatorName: "iqn.1993-08.org.debian:01:abc", peerAddress: peer)
                _ = acl.targetAllowed(target: name, localAddress: peer)
            }
        }
    default:
        let (config, diagnostics) = ConfigParser.parse(text, path: "/etc/iet/ietd.conf")
        for d in diagnostics { _ = "\(d)" }
        guard let config else { return 0 }
        var names = Set<String>()
        for t in config.targets {
            precondition(names.insert(t.name.lowercased()).inserted, "duplicate target \(t.name) accepted")
            var luns = Set<UInt16>()
            for l in t.luns {
                precondition(luns.insert(l.lun).inserted, "duplicate LUN \(l.lun) in \(t.name) accepted")
                _ = IETIdentity.defaultSCSIID(targetName: t.name, lun: l.lun)
            }
            _ = t.queuedCommandsIfSet
        }
    }
    return 0
}
