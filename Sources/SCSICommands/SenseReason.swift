/// SPC-4 §4.5.6 Table 48: sense keys.
public enum SenseKey: UInt8, Sendable, Hashable {
    case noSense = 0x0
    case recoveredError = 0x1
    case notReady = 0x2
    case mediumError = 0x3
    case hardwareError = 0x4
    case illegalRequest = 0x5
    case unitAttention = 0x6
    case dataProtect = 0x7
    case blankCheck = 0x8
    case vendorSpecific = 0x9
    case copyAborted = 0xA
    case abortedCommand = 0xB
    case volumeOverflow = 0xD
    case miscompare = 0xE
    case completed = 0xF
}

/// Why a command ends in CHECK CONDITION (or, for `.noSense`, what REQUEST SENSE reports when
/// nothing is pending). Every case maps to exactly one (sense key, ASC, ASCQ) in `detail`, the
/// one table in this module (LIO `sense_detail_table`).
public enum SenseReason: Error, Hashable, Sendable {
    /// 00/00/00 NO SENSE: REQUEST SENSE with nothing pending.
    case noSense
    /// ILLEGAL REQUEST 20/00 INVALID COMMAND OPERATION CODE.
    case invalidCommandOperationCode
    /// ILLEGAL REQUEST 24/00 INVALID FIELD IN CDB.
    case invalidFieldInCDB
    /// ILLEGAL REQUEST 24/00 INVALID FIELD IN CDB with a sense-key specific FIELD POINTER (SPC-4 §4.5.2.4.2)
    /// naming the offending CDB byte (and bit, when `bit` is 0…7).
    case invalidFieldInCDBAt(byte: UInt16, bit: UInt8?)
    /// ILLEGAL REQUEST 26/00 INVALID FIELD IN PARAMETER LIST.
    case invalidFieldInParameterList
    /// ILLEGAL REQUEST 1A/00 PARAMETER LIST LENGTH ERROR.
    case parameterListLengthError
    /// ILLEGAL REQUEST 21/00 LOGICAL BLOCK ADDRESS OUT OF RANGE.
    case logicalBlockAddressOutOfRange
    /// ILLEGAL REQUEST 25/00 LOGICAL UNIT NOT SUPPORTED.
    case logicalUnitNotSupported
    /// ILLEGAL REQUEST 39/00 SAVING PARAMETERS NOT SUPPORTED (MODE SENSE with PC = saved).
    case savingParametersNotSupported
    /// DATA PROTECT 27/00 WRITE PROTECTED.
    case writeProtected
    /// DATA PROTECT 27/07 SPACE ALLOCATION FAILED WRITE PROTECT (e.g. ENOSPC on a sparse file).
    case spaceAllocationFailed
    /// MEDIUM ERROR 11/00 UNRECOVERED READ ERROR.
    case unrecoveredReadError
    /// MEDIUM ERROR 0C/00 WRITE ERROR.
    case writeError
    /// NOT READY 3A/00 MEDIUM NOT PRESENT.
    case mediumNotPresent
    /// NOT READY 04/03 LOGICAL UNIT NOT READY, MANUAL INTERVENTION REQUIRED (backing store gone).
    case logicalUnitNotReadyManualInterventionRequired
    /// HARDWARE ERROR 44/00 INTERNAL TARGET FAILURE.
    case internalTargetFailure
    /// MISCOMPARE 1D/00 MISCOMPARE DURING VERIFY OPERATION; INFORMATION = byte offset of the
    /// first differing byte (SBC-3 §5.30 VERIFY with BYTCHK = 1).
    case miscompare(offset: UInt32)
    /// UNIT ATTENTION 29/00 POWER ON, RESET, OR BUS DEVICE RESET OCCURRED.
    case powerOnResetOccurred
    /// UNIT ATTENTION 29/03 BUS DEVICE RESET FUNCTION OCCURRED (after LOGICAL UNIT RESET).
    case busDeviceResetFunctionOccurred
    /// UNIT ATTENTION 29/07 I_T NEXUS LOSS OCCURRED.
    case itNexusLossOccurred
    /// UNIT ATTENTION 2A/09 CAPACITY DATA HAS CHANGED.
    case capacityDataHasChanged
    /// UNIT ATTENTION 2F/00 COMMANDS CLEARED BY ANOTHER INITIATOR.
    case commandsClearedByAnotherInitiator
    /// UNIT ATTENTION 3F/03 INQUIRY DATA HAS CHANGED.
    case inquiryDataHasChanged
    /// UNIT ATTENTION 3F/0E REPORTED LUNS DATA HAS CHANGED.
    case reportedLUNsDataChanged
    /// UNIT ATTENTION 2A/03 RESERVATIONS PREEMPTED (SPC-4 §5.12.11: CLEAR, PREEMPT of the reservation).
    case reservationsPreempted
    /// UNIT ATTENTION 2A/04 RESERVATIONS RELEASED (SPC-4 §5.12.11.2.2: release of a registrants-only or
    /// all-registrants reservation).
    case reservationsReleased
    /// UNIT ATTENTION 2A/05 REGISTRATIONS PREEMPTED (SPC-4 §5.12.11.4: PREEMPT removed this registration).
    case registrationsPreempted
    /// ILLEGAL REQUEST 26/04 INVALID RELEASE OF PERSISTENT RESERVATION (SPC-4 §5.12.11.2.2: RELEASE with a
    /// type or scope that differs from the reservation's).
    case invalidReleaseOfPersistentReservation
    /// ILLEGAL REQUEST 55/04 INSUFFICIENT REGISTRATION RESOURCES (SPC-4 §5.12.7).
    case insufficientRegistrationResources
    /// ABORTED COMMAND 4E/00 OVERLAPPED COMMANDS ATTEMPTED (e.g. a reused task tag).
    case overlappedCommandsAttempted
    /// ABORTED COMMAND, DATA PHASE ERROR (4B/00): the iSCSI data transfer for the command was
    /// malformed (e.g. Data-Out DataSN out of sequence, RFC 7143 §11.7.5).
    case dataPhaseError
    /// ILLEGAL REQUEST 26/00 INVALID FIELD IN PARAMETER LIST with a FIELD POINTER (C/D = 0) naming the
    /// offending parameter-list byte (SPC-4 §4.5.2.4.2).
    case invalidFieldInParameterListAt(byte: UInt16, bit: UInt8?)
    /// ILLEGAL REQUEST 26/06 TOO MANY TARGET DESCRIPTORS (SPC-4 §6.4.3: more CSCD descriptors than reported).
    case tooManyTargetDescriptors
    /// ILLEGAL REQUEST 26/07 UNSUPPORTED TARGET DESCRIPTOR TYPE CODE (SPC-4 §6.4.5).
    case unsupportedTargetDescriptorTypeCode
    /// ILLEGAL REQUEST 26/08 TOO MANY SEGMENT DESCRIPTORS (SPC-4 §6.4.3).
    case tooManySegmentDescriptors
    /// ILLEGAL REQUEST 26/09 UNSUPPORTED SEGMENT DESCRIPTOR TYPE CODE (SPC-4 §6.4.6).
    case unsupportedSegmentDescriptorTypeCode
    /// ILLEGAL REQUEST 00/16 OPERATION IN PROGRESS (SPC-4 §6.4.3: EXTENDED COPY reusing the LIST IDENTIFIER of a
    /// copy still running for the same I_T nexus).
    case operationInProgress
    /// COPY ABORTED 0D/02 COPY TARGET DEVICE NOT REACHABLE (SPC-4 §6.4.3: a CSCD descriptor index or designator
    /// that names no logical unit this copy manager can reach, or a NUL CSCD used for block data).
    case copyTargetDeviceNotReachable
    /// COPY ABORTED with the condition the copy target device reported (SPC-4 §6.4.3 "errors detected during
    /// processing of segment descriptors"); `segmentByte` is the SEGMENT POINTER (SD = 1: offset of the field in
    /// error from the start of the segment descriptor) when one field is to blame.
    case copyAborted(CopyAbortCause, segmentByte: UInt16?)

    /// One row of the sense table.
    public struct Detail: Sendable, Hashable {
        public var key: SenseKey
        public var asc: UInt8
        public var ascq: UInt8
        /// INFORMATION field value; when non-nil the fixed-format VALID bit is set and the
        /// descriptor format carries an Information descriptor (SPC-4 §4.5.2.2 / §4.5.3).
        public var information: UInt32?
        /// Sense-key specific field pointer (SPC-4 §4.5.2.4.2): 3 bytes with SKSV = 1, C/D, BPV, BIT POINTER,
        /// FIELD POINTER; nil when not reported.
        public var senseKeySpecific: [UInt8]?
    }

    /// The single (key, ASC, ASCQ) table (SPC-4 Annex D codes).
    public var detail: Detail {
        switch self {
        case .noSense: return Detail(key: .noSense, asc: 0x00, ascq: 0x00)
        case .invalidCommandOperationCode: return Detail(key: .illegalRequest, asc: 0x20, ascq: 0x00)
        case .invalidFieldInCDB: return Detail(key: .illegalRequest, asc: 0x24, ascq: 0x00)
        case .invalidFieldInCDBAt(let byte, let bit):
            // SKSV (80h) | C/D = 1 (40h: the CDB) | BPV (08h) + BIT POINTER when a bit is named.
            let flags: UInt8 = 0xC0 | (bit.map { 0x08 | ($0 & 0x07) } ?? 0)
            return Detail(key: .illegalRequest, asc: 0x24, ascq: 0x00, information: nil,
                          senseKeySpecific: [flags, UInt8(truncatingIfNeeded: byte >> 8), UInt8(truncatingIfNeeded: byte)])
        case .invalidFieldInParameterList: return Detail(key: .illegalRequest, asc: 0x26, ascq: 0x00)
        case .parameterListLengthError: return Detail(key: .illegalRequest, asc: 0x1A, ascq: 0x00)
        case .logicalBlockAddressOutOfRange: return Detail(key: .illegalRequest, asc: 0x21, ascq: 0x00)
        case .logicalUnitNotSupported: return Detail(key: .illegalRequest, asc: 0x25, ascq: 0x00)
        case .savingParametersNotSupported: return Detail(key: .illegalRequest, asc: 0x39, ascq: 0x00)
        case .writeProtected: return Detail(key: .dataProtect, asc: 0x27, ascq: 0x00)
        case .spaceAllocationFailed: return Detail(key: .dataProtect, asc: 0x27, ascq: 0x07)
        case .unrecoveredReadError: return Detail(key: .mediumError, asc: 0x11, ascq: 0x00)
        case .writeError: return Detail(key: .mediumError, asc: 0x0C, ascq: 0x00)
        case .mediumNotPresent: return Detail(key: .notReady, asc: 0x3A, ascq: 0x00)
        case .logicalUnitNotReadyManualInterventionRequired:
            return Detail(key: .notReady, asc: 0x04, ascq: 0x03)
        case .internalTargetFailure: return Detail(key: .hardwareError, asc: 0x44, ascq: 0x00)
        case .miscompare(let offset):
            return Detail(key: .miscompare, asc: 0x1D, ascq: 0x00, information: offset)
        case .powerOnResetOccurred: return Detail(key: .unitAttention, asc: 0x29, ascq: 0x00)
        case .busDeviceResetFunctionOccurred: return Detail(key: .unitAttention, asc: 0x29, ascq: 0x03)
        case .itNexusLossOccurred: return Detail(key: .unitAttention, asc: 0x29, ascq: 0x07)
        case .capacityDataHasChanged: return Detail(key: .unitAttention, asc: 0x2A, ascq: 0x09)
        case .commandsClearedByAnotherInitiator: return Detail(key: .unitAttention, asc: 0x2F, ascq: 0x00)
        case .inquiryDataHasChanged: return Detail(key: .unitAttention, asc: 0x3F, ascq: 0x03)
        case .reportedLUNsDataChanged: return Detail(key: .unitAttention, asc: 0x3F, ascq: 0x0E)
        case .reservationsPreempted: return Detail(key: .unitAttention, asc: 0x2A, ascq: 0x03)
        case .reservationsReleased: return Detail(key: .unitAttention, asc: 0x2A, ascq: 0x04)
        case .registrationsPreempted: return Detail(key: .unitAttention, asc: 0x2A, ascq: 0x05)
        case .invalidReleaseOfPersistentReservation:
            return Detail(key: .illegalRequest, asc: 0x26, ascq: 0x04)
        case .insufficientRegistrationResources: return Detail(key: .illegalRequest, asc: 0x55, ascq: 0x04)
        case .overlappedCommandsAttempted: return Detail(key: .abortedCommand, asc: 0x4E, ascq: 0x00)
        case .dataPhaseError: return Detail(key: .abortedCommand, asc: 0x4B, ascq: 0x00)
        case .invalidFieldInParameterListAt(let byte, let bit):
            // SKSV (80h) | C/D = 0 (parameter list) | BPV (08h) + BIT POINTER when a bit is named.
            let flags: UInt8 = 0x80 | (bit.map { 0x08 | ($0 & 0x07) } ?? 0)
            return Detail(key: .illegalRequest, asc: 0x26, ascq: 0x00, information: nil,
                          senseKeySpecific: [flags, UInt8(truncatingIfNeeded: byte >> 8), UInt8(truncatingIfNeeded: byte)])
        case .tooManyTargetDescriptors: return Detail(key: .illegalRequest, asc: 0x26, ascq: 0x06)
        case .unsupportedTargetDescriptorTypeCode: return Detail(key: .illegalRequest, asc: 0x26, ascq: 0x07)
        case .tooManySegmentDescriptors: return Detail(key: .illegalRequest, asc: 0x26, ascq: 0x08)
        case .unsupportedSegmentDescriptorTypeCode: return Detail(key: .illegalRequest, asc: 0x26, ascq: 0x09)
        case .operationInProgress: return Detail(key: .illegalRequest, asc: 0x00, ascq: 0x16)
        case .copyTargetDeviceNotReachable: return Detail(key: .copyAborted, asc: 0x0D, ascq: 0x02)
        case .copyAborted(let cause, let segmentByte):
            // SPC-4 §4.5.2.4.5 segment pointer: SKSV (80h) | SD (20h), FIELD POINTER = byte in the segment descriptor.
            let pointer = segmentByte.map { [0xA0, UInt8(truncatingIfNeeded: $0 >> 8), UInt8(truncatingIfNeeded: $0)] }
            return Detail(key: .copyAborted, asc: cause.asc, ascq: cause.ascq, information: nil, senseKeySpecific: pointer)
        }
    }

    /// True for UNIT ATTENTION reasons (the runtime queues these per I_T nexus).
    public var isUnitAttention: Bool { detail.key == .unitAttention }

    /// SCSI status that carries this reason: GOOD for `.noSense`, CHECK CONDITION otherwise.
    public var status: SCSIStatus { self == .noSense ? .good : .checkCondition }
}

/// What stopped an EXTENDED COPY segment (the ASC/ASCQ under sense key COPY ABORTED, SPC-4 §6.4.3).
public enum CopyAbortCause: Sendable, Hashable {
    /// 00/00: the copy target device refused the range (LBA beyond its capacity); the segment pointer names the
    /// LBA or NUMBER OF BLOCKS field (libiscsi ExtendedCopy.ValidSegDescr accepts 00/00, 08/04, 0D/02 only).
    case rangeRejected
    /// 11/00 UNRECOVERED READ ERROR on the source.
    case readError
    /// 0C/00 WRITE ERROR on the destination.
    case writeError
    /// 27/07 SPACE ALLOCATION FAILED WRITE PROTECT on the destination.
    case spaceAllocationFailed

    var asc: UInt8 {
        switch self {
        case .rangeRejected: return 0x00
        case .readError: return 0x11
        case .writeError: return 0x0C
        case .spaceAllocationFailed: return 0x27
        }
    }

    var ascq: UInt8 { self == .spaceAllocationFailed ? 0x07 : 0x00 }
}
