import Testing
@testable import ISCSINegotiation

/// The key table checked against RFC 7143 §12-13 and RFC 7144 §7.1.
@Suite struct KeyTableTests {
    @Test func everyKeyHasExactlyOneRow() {
        for key in TextKey.allCases {
            #expect(KeyTable.all.filter { $0.key == key }.count == 1, "\(key)")
            #expect(KeyTable.descriptor(for: key.rawValue)?.key == key)
        }
        #expect(KeyTable.all.count == TextKey.allCases.count)
    }

    /// Keys are case-sensitive (RFC 7143 §6.1).
    @Test func lookupIsCaseSensitive() {
        #expect(KeyTable.descriptor(for: "maxburstlength") == nil)
        #expect(KeyTable.descriptor(for: "X-com.example.Foo") == nil)
    }

    /// The RFC defaults, ranges and result functions (tgt: "the defaults here are according to the
    /// spec and must not be changed").
    @Test(arguments: [
        ("HeaderDigest", "None", KeyDescriptor.ResultFunction.list, nil as ClosedRange<UInt64>?),
        ("DataDigest", "None", .list, nil),
        ("MaxConnections", "1", .minimum, 1...65535),
        ("InitialR2T", "Yes", .or, nil),
        ("ImmediateData", "Yes", .and, nil),
        ("MaxRecvDataSegmentLength", "8192", .declarative, 512...16_777_215),
        ("MaxBurstLength", "262144", .minimum, 512...16_777_215),
        ("FirstBurstLength", "65536", .minimum, 512...16_777_215),
        ("DefaultTime2Wait", "2", .maximum, 0...3600),
        ("DefaultTime2Retain", "20", .minimum, 0...3600),
        ("MaxOutstandingR2T", "1", .minimum, 1...65535),
        ("DataPDUInOrder", "Yes", .or, nil),
        ("DataSequenceInOrder", "Yes", .or, nil),
        ("ErrorRecoveryLevel", "0", .minimum, 0...2),
        ("SessionType", "Normal", .declarative, nil),
        ("TaskReporting", "RFC3720", .list, nil),
        ("iSCSIProtocolLevel", "0", .minimum, 0...31),
        ("IFMarker", "No", .and, nil),
        ("OFMarker", "No", .and, nil),
        ("OFMarkInt", "2048", .numericalRange, 1...65535),
        ("IFMarkInt", "2048", .numericalRange, 1...65535),
    ])
    func rfcDefaultsAndRanges(name: String, defaultValue: String, result: KeyDescriptor.ResultFunction, range: ClosedRange<UInt64>?) {
        let descriptor = KeyTable.descriptor(for: name)
        #expect(descriptor?.defaultValue == defaultValue)
        #expect(descriptor?.resultFunction == result)
        if let range { #expect(descriptor?.domain == .numeric(range)) }
    }

    /// RFC 7143 §13: "Irrelevant when: SessionType=Discovery".
    @Test func irrelevantInDiscovery() {
        let irrelevant = Set(KeyTable.all.filter(\.irrelevantInDiscovery).map(\.key))
        #expect(irrelevant == [.maxConnections, .initialR2T, .immediateData, .maxBurstLength, .firstBurstLength,
                               .maxOutstandingR2T, .dataPDUInOrder, .dataSequenceInOrder, .taskReporting])
    }

    @Test func obsoleteKeys() {
        #expect(Set(KeyTable.all.filter(\.obsolete).map(\.key)) == [.ifMarker, .ofMarker, .ifMarkInt, .ofMarkInt])
    }

    @Test func securityKeysAreSecurityPhase() {
        for key in [TextKey.authMethod, .chapA, .chapI, .chapC, .chapN, .chapR] {
            #expect(KeyTable.descriptor(for: key).phase == .security)
        }
        #expect(KeyTable.descriptor(for: .sendTargets).phase == .fullFeature)
        #expect(KeyTable.descriptor(for: .maxRecvDataSegmentLength).phase == .any)
        #expect(KeyTable.descriptor(for: .maxRecvDataSegmentLength).scope == .connection)
        #expect(KeyTable.descriptor(for: .targetPortalGroupTag).sender == .target)
        #expect(KeyTable.descriptor(for: .initiatorName).sender == .initiator)
    }

    @Test func numberSyntax() {
        #expect(TextValue.number("8192") == 8192)
        #expect(TextValue.number("0x2000") == 8192)
        #expect(TextValue.number("") == nil)
        #expect(TextValue.number("-1") == nil)
        #expect(TextValue.number("+1") == nil)
        #expect(TextValue.number("12a") == nil)
        #expect(TextValue.number("99999999999999999999999") == nil)
        #expect(TextValue.boolean("Yes") == true && TextValue.boolean("No") == false)
        #expect(TextValue.boolean("yes") == nil)
    }
}
