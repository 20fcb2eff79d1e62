import Testing
import SCSICommands

@Test("Fixed-format sense: ILLEGAL REQUEST / LBA OUT OF RANGE")
func fixedLBAOutOfRange() {
    #expect(SenseData.build(.logicalBlockAddressOutOfRange, format: .fixed)
            == hex("70 00 05 00 00 00 00 0A 00 00 00 00 21 00 00 00 00 00"))
}

@Test("Descriptor-format sense: ILLEGAL REQUEST / LBA OUT OF RANGE")
func descriptorLBAOutOfRange() {
    #expect(SenseData.build(.logicalBlockAddressOutOfRange, format: .descriptor) == hex("72 05 21 00 00 00 00 00"))
}

@Test("Fixed-format sense with INFORMATION sets VALID (MISCOMPARE offset)")
func fixedMiscompare() {
    #expect(SenseData.build(.miscompare(offset: 0x0102_0304), format: .fixed)
            == hex("F0 00 0E 01 02 03 04 0A 00 00 00 00 1D 00 00 00 00 00"))
}

@Test("Descriptor-format sense with an Information descriptor")
func descriptorMiscompare() {
    #expect(SenseData.build(.miscompare(offset: 513), format: .descriptor)
            == hex("72 0E 1D 00 00 00 00 0C | 00 0A 80 00 00 00 00 00 00 00 02 01"))
}

@Test("NO SENSE is GOOD status; everything else CHECK CONDITION")
func statusOfReasons() {
    #expect(SenseReason.noSense.status == .good)
    #expect(SenseData.build(.noSense, format: .fixed) == hex("70 00 00 00 00 00 00 0A 00 00 00 00 00 00 00 00 00 00"))
    #expect(SenseReason.writeProtected.status == .checkCondition)
}

struct SenseRow: Sendable, CustomTestStringConvertible {
    let reason: SenseReason
    let key: SenseKey
    let asc: UInt8
    let ascq: UInt8
    var testDescription: String { "\(reason)" }
}

/// The whole table against SPC-4 Annex D.
let senseRows: [SenseRow] = [
    SenseRow(reason: .noSense, key: .noSense, asc: 0x00, ascq: 0x00),
    SenseRow(reason: .invalidCommandOperationCode, key: .illegalRequest, asc: 0x20, ascq: 0x00),
    SenseRow(reason: .invalidFieldInCDB, key: .illegalRequest, asc: 0x24, ascq: 0x00),
    SenseRow(reason: .invalidFieldInParameterList, key: .illegalRequest, asc: 0x26, ascq: 0x00),
    SenseRow(reason: .parameterListLengthError, key: .illegalRequest, asc: 0x1A, ascq: 0x00),
    SenseRow(reason: .logicalBlockAddressOutOfRange, key: .illegalRequest, asc: 0x21, ascq: 0x00),
    SenseRow(reason: .logicalUnitNotSupported, key: .illegalRequest, asc: 0x25, ascq: 0x00),
    SenseRow(reason: .savingParametersNotSupported, key: .illegalRequest, asc: 0x39, ascq: 0x00),
    SenseRow(reason: .writeProtected, key: .dataProtect, asc: 0x27, ascq: 0x00),
    SenseRow(reason: .spaceAllocationFailed, key: .dataProtect, asc: 0x27, ascq: 0x07),
    SenseRow(reason: .unrecoveredReadError, key: .mediumError, asc: 0x11, ascq: 0x00),
    SenseRow(reason: .writeError, key: .mediumError, asc: 0x0C, ascq: 0x00),
    SenseRow(reason: .mediumNotPresent, key: .notReady, asc: 0x3A, ascq: 0x00),
    SenseRow(reason: .logicalUnitNotReadyManualInterventionRequired, key: .notReady, asc: 0x04, ascq: 0x03),
    SenseRow(reason: .internalTargetFailure, key: .hardwareError, asc: 0x44, ascq: 0x00),
    SenseRow(reason: .miscompare(offset: 7), key: .miscompare, asc: 0x1D, ascq: 0x00),
    SenseRow(reason: .powerOnResetOccurred, key: .unitAttention, asc: 0x29, ascq: 0x00),
    SenseRow(reason: .busDeviceResetFunctionOccurred, key: .unitAttention, asc: 0x29, ascq: 0x03),
    SenseRow(reason: .itNexusLossOccurred, key: .unitAttention, asc: 0x29, ascq: 0x07),
    SenseRow(reason: .capacityDataHasChanged, key: .unitAttention, asc: 0x2A, ascq: 0x09),
    SenseRow(reason: .commandsClearedByAnotherInitiator, key: .unitAttention, asc: 0x2F, ascq: 0x00),
    SenseRow(reason: .inquiryDataHasChanged, key: .unitAttention, asc: 0x3F, ascq: 0x03),
    SenseRow(reason: .reportedLUNsDataChanged, key: .unitAttention, asc: 0x3F, ascq: 0x0E),
    SenseRow(reason: .overlappedCommandsAttempted, key: .abortedCommand, asc: 0x4E, ascq: 0x00),
]

@Test("Sense table rows and both encodings", arguments: senseRows)
func senseTableRow(_ row: SenseRow) {
    let detail = row.reason.detail
    #expect(detail.key == row.key && detail.asc == row.asc && detail.ascq == row.ascq)
    #expect(row.reason.isUnitAttention == (row.key == .unitAttention))
    let fixed = SenseData.build(row.reason, format: .fixed)
    #expect(fixed.count == 18)
    #expect(fixed[2] == row.key.rawValue && fixed[12] == row.asc && fixed[13] == row.ascq)
    let descriptor = SenseData.build(row.reason, format: .descriptor)
    #expect(descriptor[1] == row.key.rawValue && descriptor[2] == row.asc && descriptor[3] == row.ascq)
    #expect(Int(descriptor[7]) == descriptor.count - 8)
}
