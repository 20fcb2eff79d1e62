// iSCSI PDU types (RFC 7143 §11). One struct per opcode; `InitiatorPDU` and `TargetPDU` are the
// enums over them. Every struct can be decoded from a 48-byte BHS and encoded back to one, in both
// directions (the target decodes initiator PDUs and encodes target PDUs; tests and the in-process test
// initiator do the reverse).
//
// Data segments are not part of these structs: the framer hands them over separately, so that the
// runtime can place SCSI data straight into I/O buffers.

/// RFC 7143 §11.2.1.2: opcodes. Initiator opcodes 0x00-0x1f, target opcodes 0x20-0x3f.
public enum Opcode: UInt8, Sendable, CaseIterable {
    case nopOut = 0x00
    case scsiCommand = 0x01
    case taskManagementRequest = 0x02
    case loginRequest = 0x03
    case textRequest = 0x04
    case dataOut = 0x05
    case logoutRequest = 0x06
    case snackRequest = 0x10

    case nopIn = 0x20
    case scsiResponse = 0x21
    case taskManagementResponse = 0x22
    case loginResponse = 0x23
    case textResponse = 0x24
    case dataIn = 0x25
    case logoutResponse = 0x26
    case r2t = 0x31
    case asyncMessage = 0x32
    case reject = 0x3f
}

/// RFC 7143 §11.2.1: the reserved "unused" tag value.
public let reservedTag: UInt32 = 0xffff_ffff

// MARK: - Initiator → target

/// RFC 7143 §11.18 NOP-Out.
public struct NOPOut: Hashable, Sendable {
    public var immediate: Bool
    public var lun: UInt64
    public var initiatorTaskTag: UInt32
    public var targetTransferTag: UInt32
    public var cmdSN: UInt32
    public var expStatSN: UInt32
    public init(immediate: Bool = true, lun: UInt64 = 0, initiatorTaskTag: UInt32, targetTransferTag: UInt32 = reservedTag, cmdSN: UInt32, expStatSN: UInt32) {
        self.immediate = immediate; self.lun = lun; self.initiatorTaskTag = initiatorTaskTag
        self.targetTransferTag = targetTransferTag; self.cmdSN = cmdSN; self.expStatSN = expStatSN
    }
}

/// RFC 7143 §11.3 SCSI Command.
public struct SCSICommandPDU: Hashable, Sendable {
    public var immediate: Bool
    public var final: Bool
    public var read: Bool
    public var write: Bool
    /// Task attribute (3 bits: 0 untagged, 1 simple, 2 ordered, 3 head of queue, 4 ACA).
    public var attribute: UInt8
    public var lun: UInt64
    public var initiatorTaskTag: UInt32
    public var expectedDataTransferLength: UInt32
    public var cmdSN: UInt32
    public var expStatSN: UInt32
    /// The CDB: the 16 bytes of the BHS, followed by the Extended CDB AHS bytes when present
    /// (RFC 7143 §11.3.5). Kept at full length; the SCSI layer reads what the opcode needs.
    public var cdb: [UInt8]
    /// Bidirectional Read Expected Data Transfer Length AHS (RFC 7143 §11.3.4), if present.
    public var bidirectionalReadLength: UInt32?
    public init(immediate: Bool = false, final: Bool = true, read: Bool, write: Bool, attribute: UInt8 = 1, lun: UInt64, initiatorTaskTag: UInt32, expectedDataTransferLength: UInt32, cmdSN: UInt32, expStatSN: UInt32, cdb: [UInt8], bidirectionalReadLength: UInt32? = nil) {
        self.immediate = immediate; self.final = final; self.read = read; self.write = write
        self.attribute = attribute; self.lun = lun; self.initiatorTaskTag = initiatorTaskTag
        self.expectedDataTransferLength = expectedDataTransferLength; self.cmdSN = cmdSN
        self.expStatSN = expStatSN; self.cdb = cdb; self.bidirectionalReadLength = bidirectionalReadLength
    }
}

/// RFC 7143 §11.5 Task Management Function Request.
public struct TaskManagementRequest: Hashable, Sendable {
    public var immediate: Bool
    /// RFC 7143 §11.5.1: 1 ABORT TASK, 2 ABORT TASK SET, 3 CLEAR ACA, 4 CLEAR TASK SET,
    /// 5 LOGICAL UNIT RESET, 6 TARGET WARM RESET, 7 TARGET COLD RESET, 8 TASK REASSIGN.
    public var function: UInt8
    public var lun: UInt64
    public var initiatorTaskTag: UInt32
    public var referencedTaskTag: UInt32
    public var cmdSN: UInt32
    public var expStatSN: UInt32
    public var refCmdSN: UInt32
    public var expDataSN: UInt32
    public init(immediate: Bool = true, function: UInt8, lun: UInt64, initiatorTaskTag: UInt32, referencedTaskTag: UInt32 = reservedTag, cmdSN: UInt32, expStatSN: UInt32, refCmdSN: UInt32 = 0, expDataSN: UInt32 = 0) {
        self.immediate = immediate; self.function = function; self.lun = lun
        self.initiatorTaskTag = initiatorTaskTag; self.referencedTaskTag = referencedTaskTag
        self.cmdSN = cmdSN; self.expStatSN = expStatSN; self.refCmdSN = refCmdSN; self.expDataSN = expDataSN
    }
}

/// RFC 7143 §11.12 Login Request.
public struct LoginRequest: Hashable, Sendable {
    public var transit: Bool
    public var continueFlag: Bool
    /// Current stage (0 security, 1 operational, 3 full feature).
    public var currentStage: UInt8
    public var nextStage: UInt8
    public var versionMax: UInt8
    public var versionMin: UInt8
    /// The 6-byte ISID as the low 48 bits.
    public var isid: UInt64
    public var tsih: UInt16
    public var initiatorTaskTag: UInt32
    public var cid: UInt16
    public var cmdSN: UInt32
    public var expStatSN: UInt32
    public init(transit: Bool, continueFlag: Bool = false, currentStage: UInt8, nextStage: UInt8, versionMax: UInt8 = 0, versionMin: UInt8 = 0, isid: UInt64, tsih: UInt16 = 0, initiatorTaskTag: UInt32, cid: UInt16 = 0, cmdSN: UInt32, expStatSN: UInt32 = 0) {
        self.transit = transit; self.continueFlag = continueFlag; self.currentStage = currentStage
        self.nextStage = nextStage; self.versionMax = versionMax; self.versionMin = versionMin
        self.isid = isid; self.tsih = tsih; self.initiatorTaskTag = initiatorTaskTag; self.cid = cid
        self.cmdSN = cmdSN; self.expStatSN = expStatSN
    }
}

/// RFC 7143 §11.10 Text Request.
public struct TextRequest: Hashable, Sendable {
    public var immediate: Bool
    public var final: Bool
    public var continueFlag: Bool
    public var lun: UInt64
    public var initiatorTaskTag: UInt32
    public var targetTransferTag: UInt32
    public var cmdSN: UInt32
    public var expStatSN: UInt32
    public init(immediate: Bool = false, final: Bool = true, continueFlag: Bool = false, lun: UInt64 = 0, initiatorTaskTag: UInt32, targetTransferTag: UInt32 = reservedTag, cmdSN: UInt32, expStatSN: UInt32) {
        self.immediate = immediate; self.final = final; self.continueFlag = continueFlag; self.lun = lun
        self.initiatorTaskTag = initiatorTaskTag; self.targetTransferTag = targetTransferTag
        self.cmdSN = cmdSN; self.expStatSN = expStatSN
    }
}

/// RFC 7143 §11.8 SCSI Data-Out.
public struct DataOut: Hashable, Sendable {
    public var final: Bool
    public var lun: UInt64
    public var initiatorTaskTag: UInt32
    public var targetTransferTag: UInt32
    public var expStatSN: UInt32
    public var dataSN: UInt32
    public var bufferOffset: UInt32
    public init(final: Bool, lun: UInt64, initiatorTaskTag: UInt32, targetTransferTag: UInt32, expStatSN: UInt32, dataSN: UInt32, bufferOffset: UInt32) {
        self.final = final; self.lun = lun; self.initiatorTaskTag = initiatorTaskTag
        self.targetTransferTag = targetTransferTag; self.expStatSN = expStatSN; self.dataSN = dataSN
        self.bufferOffset = bufferOffset
    }
}

/// RFC 7143 §11.14 Logout Request.
public struct LogoutRequest: Hashable, Sendable {
    public var immediate: Bool
    /// 0 close the session, 1 close the connection, 2 remove the connection for recovery.
    public var reasonCode: UInt8
    public var initiatorTaskTag: UInt32
    public var cid: UInt16
    public var cmdSN: UInt32
    public var expStatSN: UInt32
    public init(immediate: Bool = true, reasonCode: UInt8, initiatorTaskTag: UInt32, cid: UInt16 = 0, cmdSN: UInt32, expStatSN: UInt32) {
        self.immediate = immediate; self.reasonCode = reasonCode; self.initiatorTaskTag = initiatorTaskTag
        self.cid = cid; self.cmdSN = cmdSN; self.expStatSN = expStatSN
    }
}

/// RFC 7143 §11.16 SNACK Request.
public struct SNACKRequest: Hashable, Sendable {
    public var type: UInt8
    public var lun: UInt64
    public var initiatorTaskTag: UInt32
    public var targetTransferTag: UInt32
    public var expStatSN: UInt32
    public var begRun: UInt32
    public var runLength: UInt32
    public init(type: UInt8, lun: UInt64, initiatorTaskTag: UInt32, targetTransferTag: UInt32, expStatSN: UInt32, begRun: UInt32, runLength: UInt32) {
        self.type = type; self.lun = lun; self.initiatorTaskTag = initiatorTaskTag
        self.targetTransferTag = targetTransferTag; self.expStatSN = expStatSN; self.begRun = begRun
        self.runLength = runLength
    }
}

/// A decoded initiator PDU header (data segment carried separately).
public enum InitiatorPDU: Hashable, Sendable {
    case nopOut(NOPOut)
    case scsiCommand(SCSICommandPDU)
    case taskManagement(TaskManagementRequest)
    case login(LoginRequest)
    case text(TextRequest)
    case dataOut(DataOut)
    case logout(LogoutRequest)
    case snack(SNACKRequest)
}

// MARK: - Target → initiator

/// RFC 7143 §11.19 NOP-In.
public struct NOPIn: Hashable, Sendable {
    public var lun: UInt64
    public var initiatorTaskTag: UInt32
    public var targetTransferTag: UInt32
    public var statSN: UInt32
    public var expCmdSN: UInt32
    public var maxCmdSN: UInt32
    public init(lun: UInt64 = 0, initiatorTaskTag: UInt32, targetTransferTag: UInt32, statSN: UInt32, expCmdSN: UInt32, maxCmdSN: UInt32) {
        self.lun = lun; self.initiatorTaskTag = initiatorTaskTag; self.targetTransferTag = targetTransferTag
        self.statSN = statSN; self.expCmdSN = expCmdSN; self.maxCmdSN = maxCmdSN
    }
}

/// RFC 7143 §11.4 SCSI Response.
public struct SCSIResponsePDU: Hashable, Sendable {
    public var bidiReadOverflow: Bool
    public var bidiReadUnderflow: Bool
    public var overflow: Bool
    public var underflow: Bool
    /// RFC 7143 §11.4.3: 0x00 command completed at target, 0x01 target failure.
    public var response: UInt8
    /// SCSI status (0x00 GOOD, 0x02 CHECK CONDITION, 0x08 BUSY, 0x18 RESERVATION CONFLICT, ...).
    public var status: UInt8
    public var initiatorTaskTag: UInt32
    public var statSN: UInt32
    public var expCmdSN: UInt32
    public var maxCmdSN: UInt32
    public var expDataSN: UInt32
    public var bidiReadResidualCount: UInt32
    public var residualCount: UInt32
    public init(overflow: Bool = false, underflow: Bool = false, response: UInt8 = 0, status: UInt8, initiatorTaskTag: UInt32, statSN: UInt32, expCmdSN: UInt32, maxCmdSN: UInt32, expDataSN: UInt32 = 0, residualCount: UInt32 = 0) {
        self.bidiReadOverflow = false; self.bidiReadUnderflow = false
        self.overflow = overflow; self.underflow = underflow; self.response = response; self.status = status
        self.initiatorTaskTag = initiatorTaskTag; self.statSN = statSN; self.expCmdSN = expCmdSN
        self.maxCmdSN = maxCmdSN; self.expDataSN = expDataSN; self.bidiReadResidualCount = 0
        self.residualCount = residualCount
    }
}

/// RFC 7143 §11.6 Task Management Function Response.
public struct TaskManagementResponse: Hashable, Sendable {
    /// RFC 7143 §11.6.1: 0 complete, 1 task does not exist, 2 LUN does not exist, 3 task still
    /// allegiant, 4 reassignment not supported, 5 not supported, 6 authorization failed, 255 rejected.
    public var response: UInt8
    public var initiatorTaskTag: UInt32
    public var statSN: UInt32
    public var expCmdSN: UInt32
    public var maxCmdSN: UInt32
    public init(response: UInt8, initiatorTaskTag: UInt32, statSN: UInt32, expCmdSN: UInt32, maxCmdSN: UInt32) {
        self.response = response; self.initiatorTaskTag = initiatorTaskTag; self.statSN = statSN
        self.expCmdSN = expCmdSN; self.maxCmdSN = maxCmdSN
    }
}

/// RFC 7143 §11.13 Login Response.
public struct LoginResponse: Hashable, Sendable {
    public var transit: Bool
    public var continueFlag: Bool
    public var currentStage: UInt8
    public var nextStage: UInt8
    public var versionMax: UInt8
    public var versionActive: UInt8
    public var isid: UInt64
    public var tsih: UInt16
    public var initiatorTaskTag: UInt32
    public var statSN: UInt32
    public var expCmdSN: UInt32
    public var maxCmdSN: UInt32
    public var statusClass: UInt8
    public var statusDetail: UInt8
    public init(transit: Bool, continueFlag: Bool = false, currentStage: UInt8, nextStage: UInt8, versionMax: UInt8 = 0, versionActive: UInt8 = 0, isid: UInt64, tsih: UInt16, initiatorTaskTag: UInt32, statSN: UInt32, expCmdSN: UInt32, maxCmdSN: UInt32, statusClass: UInt8 = 0, statusDetail: UInt8 = 0) {
        self.transit = transit; self.continueFlag = continueFlag; self.currentStage = currentStage
        self.nextStage = nextStage; self.versionMax = versionMax; self.versionActive = versionActive
        self.isid = isid; self.tsih = tsih; self.initiatorTaskTag = initiatorTaskTag; self.statSN = statSN
        self.expCmdSN = expCmdSN; self.maxCmdSN = maxCmdSN; self.statusClass = statusClass
        self.statusDetail = statusDetail
    }
}

/// RFC 7143 §11.11 Text Response.
public struct TextResponse: Hashable, Sendable {
    public var final: Bool
    public var continueFlag: Bool
    public var lun: UInt64
    public var initiatorTaskTag: UInt32
    public var targetTransferTag: UInt32
    public var statSN: UInt32
    public var expCmdSN: UInt32
    public var maxCmdSN: UInt32
    public init(final: Bool, continueFlag: Bool = false, lun: UInt64 = 0, initiatorTaskTag: UInt32, targetTransferTag: UInt32, statSN: UInt32, expCmdSN: UInt32, maxCmdSN: UInt32) {
        self.final = final; self.continueFlag = continueFlag; self.lun = lun
        self.initiatorTaskTag = initiatorTaskTag; self.targetTransferTag = targetTransferTag
        self.statSN = statSN; self.expCmdSN = expCmdSN; self.maxCmdSN = maxCmdSN
    }
}

/// RFC 7143 §11.7 SCSI Data-In.
public struct DataIn: Hashable, Sendable {
    public var final: Bool
    public var acknowledge: Bool
    public var overflow: Bool
    public var underflow: Bool
    /// S bit: status is carried in this PDU (only with F).
    public var statusPresent: Bool
    public var status: UInt8
    public var lun: UInt64
    public var initiatorTaskTag: UInt32
    public var targetTransferTag: UInt32
    /// Only meaningful (and only encoded) when `statusPresent`; otherwise reserved (0).
    public var statSN: UInt32
    public var expCmdSN: UInt32
    public var maxCmdSN: UInt32
    public var dataSN: UInt32
    public var bufferOffset: UInt32
    public var residualCount: UInt32
    public init(final: Bool, acknowledge: Bool = false, overflow: Bool = false, underflow: Bool = false, statusPresent: Bool, status: UInt8 = 0, lun: UInt64, initiatorTaskTag: UInt32, targetTransferTag: UInt32 = reservedTag, statSN: UInt32, expCmdSN: UInt32, maxCmdSN: UInt32, dataSN: UInt32, bufferOffset: UInt32, residualCount: UInt32 = 0) {
        self.final = final; self.acknowledge = acknowledge; self.overflow = overflow; self.underflow = underflow
        self.statusPresent = statusPresent; self.status = status; self.lun = lun
        self.initiatorTaskTag = initiatorTaskTag; self.targetTransferTag = targetTransferTag
        self.statSN = statSN; self.expCmdSN = expCmdSN; self.maxCmdSN = maxCmdSN; self.dataSN = dataSN
        self.bufferOffset = bufferOffset; self.residualCount = residualCount
    }
}

/// RFC 7143 §11.15 Logout Response.
public struct LogoutResponse: Hashable, Sendable {
    /// 0 closed successfully, 1 CID not found, 2 recovery not supported, 3 cleanup failed.
    public var response: UInt8
    public var initiatorTaskTag: UInt32
    public var statSN: UInt32
    public var expCmdSN: UInt32
    public var maxCmdSN: UInt32
    public var time2Wait: UInt16
    public var time2Retain: UInt16
    public init(response: UInt8, initiatorTaskTag: UInt32, statSN: UInt32, expCmdSN: UInt32, maxCmdSN: UInt32, time2Wait: UInt16 = 0, time2Retain: UInt16 = 0) {
        self.response = response; self.initiatorTaskTag = initiatorTaskTag; self.statSN = statSN
        self.expCmdSN = expCmdSN; self.maxCmdSN = maxCmdSN; self.time2Wait = time2Wait
        self.time2Retain = time2Retain
    }
}

/// RFC 7143 §11.8 Ready To Transfer.
public struct R2T: Hashable, Sendable {
    public var lun: UInt64
    public var initiatorTaskTag: UInt32
    public var targetTransferTag: UInt32
    public var statSN: UInt32
    public var expCmdSN: UInt32
    public var maxCmdSN: UInt32
    public var r2tSN: UInt32
    public var bufferOffset: UInt32
    public var desiredDataTransferLength: UInt32
    public init(lun: UInt64, initiatorTaskTag: UInt32, targetTransferTag: UInt32, statSN: UInt32, expCmdSN: UInt32, maxCmdSN: UInt32, r2tSN: UInt32, bufferOffset: UInt32, desiredDataTransferLength: UInt32) {
        self.lun = lun; self.initiatorTaskTag = initiatorTaskTag; self.targetTransferTag = targetTransferTag
        self.statSN = statSN; self.expCmdSN = expCmdSN; self.maxCmdSN = maxCmdSN; self.r2tSN = r2tSN
        self.bufferOffset = bufferOffset; self.desiredDataTransferLength = desiredDataTransferLength
    }
}

/// RFC 7143 §11.9 Asynchronous Message.
public struct AsyncMessage: Hashable, Sendable {
    public var lun: UInt64
    public var statSN: UInt32
    public var expCmdSN: UInt32
    public var maxCmdSN: UInt32
    /// 0 SCSI async event, 1 logout request, 2 connection drop, 3 session drop, 4 renegotiate, 255 vendor.
    public var asyncEvent: UInt8
    public var asyncVCode: UInt8
    public var parameter1: UInt16
    public var parameter2: UInt16
    public var parameter3: UInt16
    public init(lun: UInt64 = 0, statSN: UInt32, expCmdSN: UInt32, maxCmdSN: UInt32, asyncEvent: UInt8, asyncVCode: UInt8 = 0, parameter1: UInt16 = 0, parameter2: UInt16 = 0, parameter3: UInt16 = 0) {
        self.lun = lun; self.statSN = statSN; self.expCmdSN = expCmdSN; self.maxCmdSN = maxCmdSN
        self.asyncEvent = asyncEvent; self.asyncVCode = asyncVCode; self.parameter1 = parameter1
        self.parameter2 = parameter2; self.parameter3 = parameter3
    }
}

/// RFC 7143 §11.17 Reject. The data segment carries the complete rejected BHS.
public struct Reject: Hashable, Sendable {
    /// RFC 7143 §11.17.1: 0x02 data digest error, 0x03 SNACK reject, 0x04 protocol error,
    /// 0x05 command not supported, 0x06 immediate command reject, 0x07 task in progress,
    /// 0x08 invalid data ack, 0x09 invalid PDU field, 0x0a long op reject, 0x0b negotiation reset,
    /// 0x0c waiting for logout.
    public var reason: UInt8
    public var statSN: UInt32
    public var expCmdSN: UInt32
    public var maxCmdSN: UInt32
    public var dataSNOrR2TSN: UInt32
    public init(reason: UInt8, statSN: UInt32, expCmdSN: UInt32, maxCmdSN: UInt32, dataSNOrR2TSN: UInt32 = 0) {
        self.reason = reason; self.statSN = statSN; self.expCmdSN = expCmdSN; self.maxCmdSN = maxCmdSN
        self.dataSNOrR2TSN = dataSNOrR2TSN
    }
}

/// A target PDU header (data segment carried separately).
public enum TargetPDU: Hashable, Sendable {
    case nopIn(NOPIn)
    case scsiResponse(SCSIResponsePDU)
    case taskManagementResponse(TaskManagementResponse)
    case loginResponse(LoginResponse)
    case textResponse(TextResponse)
    case dataIn(DataIn)
    case logoutResponse(LogoutResponse)
    case r2t(R2T)
    case asyncMessage(AsyncMessage)
    case reject(Reject)
}
