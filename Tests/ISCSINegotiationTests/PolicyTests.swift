import Testing
@testable import ISCSINegotiation

/// `TargetNegotiationPolicy.fromIETParameters` (anchors §1.5).
@Suite struct PolicyTests {
    @Test func defaults() {
        let (policy, warnings) = TargetNegotiationPolicy.fromIETParameters([:])
        #expect(warnings.isEmpty)
        #expect(policy == TargetNegotiationPolicy())
        #expect(policy.maxRecvDataSegmentLength == 262_144 && policy.maxBurstLength == 1_048_576)
        #expect(!policy.initialR2T && policy.immediateData)
        // RFC 7143 §13.1: both digests accepted by default, the initiator's preference wins.
        #expect(policy.headerDigest == ["CRC32C", "None"] && policy.dataDigest == ["CRC32C", "None"])
    }

    @Test func parsesIETKeysCaseInsensitively() {
        let (policy, warnings) = TargetNegotiationPolicy.fromIETParameters([
            "maxrecvdatasegmentlength": "65536", "MaxXmitDataSegmentLength": "131072",
            "MaxBurstLength": "524288", "FirstBurstLength": "65536", "InitialR2T": "Yes",
            "ImmediateData": "No", "MaxOutstandingR2T": "8", "DefaultTime2Wait": "5",
            "HeaderDigest": "CRC32C,None", "DataDigest": "crc32c", "NOPInterval": "5", "Wthreads": "8",
        ])
        #expect(warnings.isEmpty, "\(warnings)")
        #expect(policy.maxRecvDataSegmentLength == 65536 && policy.maxXmitDataSegmentLength == 131_072)
        #expect(policy.maxBurstLength == 524_288 && policy.firstBurstLength == 65536)
        #expect(policy.initialR2T && !policy.immediateData && policy.maxOutstandingR2T == 8)
        #expect(policy.defaultTime2Wait == 5)
        #expect(policy.headerDigest == ["CRC32C", "None"] && policy.dataDigest == ["CRC32C"])
    }

    /// IET clamps out-of-range values (with a warning); so do we.
    @Test func clampsOutOfRange() {
        let (policy, warnings) = TargetNegotiationPolicy.fromIETParameters(["MaxRecvDataSegmentLength": "100",
                                                                            "MaxBurstLength": "99999999"])
        #expect(policy.maxRecvDataSegmentLength == 512 && policy.maxBurstLength == 16_777_215)
        #expect(warnings.count == 2)
    }

    /// ERL 0, one connection, in-order data and DefaultTime2Retain 0 are forced.
    @Test func forcesUnsupportedValues() {
        let (policy, warnings) = TargetNegotiationPolicy.fromIETParameters([
            "ErrorRecoveryLevel": "2", "MaxConnections": "4", "DataPDUInOrder": "No",
            "DataSequenceInOrder": "No", "DefaultTime2Retain": "20", "OFMarker": "Yes",
        ])
        #expect(policy.errorRecoveryLevel == 0 && policy.maxConnections == 1 && policy.dataPDUInOrder)
        #expect(policy.dataSequenceInOrder && policy.defaultTime2Retain == 0)
        #expect(warnings.count == 6)
    }

    @Test func badValuesWarnAndKeepDefaults() {
        let (policy, warnings) = TargetNegotiationPolicy.fromIETParameters([
            "InitialR2T": "maybe", "MaxBurstLength": "lots", "HeaderDigest": "MD5", "Bogus": "1",
        ])
        #expect(policy == TargetNegotiationPolicy())
        #expect(warnings.count == 5, "\(warnings)")
    }

    /// RFC 7143 §13.14: FirstBurstLength must not exceed MaxBurstLength.
    @Test func firstBurstClampedToMaxBurst() {
        let (policy, warnings) = TargetNegotiationPolicy.fromIETParameters(["MaxBurstLength": "65536"])
        #expect(policy.firstBurstLength == 65536)
        #expect(warnings.count == 1)
    }
}
