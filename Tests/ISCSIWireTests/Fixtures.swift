@testable import ISCSIWire

/// One BHS fixture: the hex bytes and the struct they decode to. Encoding the struct must give
/// the same bytes back (reserved bytes are zero in every fixture).
struct InitiatorFixture: Sendable, CustomStringConvertible {
    var name: String
    var bhs: String
    var ahs: String = ""
    var pdu: InitiatorPDU
    var description: String { name }
}

struct TargetFixture: Sendable, CustomStringConvertible {
    var name: String
    var bhs: String
    var pdu: TargetPDU
    var description: String { name }
}

let lun1: UInt64 = 0x0001_0000_0000_0000

let initiatorFixtures: [InitiatorFixture] = [
    InitiatorFixture(name: "NOP-Out", bhs: """
        40 80 00 00  00 00 00 00   # I + 0x00, F; TotalAHSLength 0, DSL 0
        00 00 00 00  00 00 00 00   # LUN
        11 22 33 44  ff ff ff ff   # ITT, TTT
        00 00 00 05  00 00 00 06   # CmdSN, ExpStatSN
        00 00 00 00  00 00 00 00  00 00 00 00  00 00 00 00
        """,
        pdu: .nopOut(NOPOut(immediate: true, lun: 0, initiatorTaskTag: 0x1122_3344, cmdSN: 5, expStatSN: 6))),
    InitiatorFixture(name: "SCSI Command READ(10)", bhs: """
        01 c1 00 00  00 00 00 00   # F R, ATTR simple
        00 01 00 00  00 00 00 00   # LUN 1
        00 00 00 0a  00 00 10 00   # ITT, EDTL 4096
        00 00 00 10  00 00 00 20   # CmdSN, ExpStatSN
        28 00 00 00  00 10 00 00  08 00 00 00  00 00 00 00   # CDB
        """,
        pdu: .scsiCommand(SCSICommandPDU(read: true, write: false, attribute: 1, lun: lun1, initiatorTaskTag: 0x0a,
                                         expectedDataTransferLength: 4096, cmdSN: 0x10, expStatSN: 0x20,
                                         cdb: [0x28, 0, 0, 0, 0, 0x10, 0, 0, 0x08, 0, 0, 0, 0, 0, 0, 0]))),
    InitiatorFixture(name: "SCSI Command 32-byte CDB + bidi AHS", bhs: """
        41 e2 00 00  07 00 00 00   # I, F R W, ATTR ordered; TotalAHSLength 7 words
        00 01 00 00  00 00 00 00
        00 00 00 0b  00 00 02 00
        00 00 00 11  00 00 00 21
        7f 00 00 00  00 00 00 18  00 00 00 00  00 00 00 00
        """,
        ahs: """
        00 11 01 00   # AHSLength 17, type 1 (Extended CDB), reserved
        10 11 12 13  14 15 16 17  18 19 1a 1b  1c 1d 1e 1f   # CDB bytes 16-31
        00 05 02 00   # AHSLength 5, type 2 (Bidirectional Read Length), reserved
        00 00 04 00   # 1024
        """,
        pdu: .scsiCommand(SCSICommandPDU(
            immediate: true, read: true, write: true, attribute: 2, lun: lun1, initiatorTaskTag: 0x0b,
            expectedDataTransferLength: 0x200, cmdSN: 0x11, expStatSN: 0x21,
            cdb: [0x7f, 0, 0, 0, 0, 0, 0, 0x18, 0, 0, 0, 0, 0, 0, 0, 0] + (0x10...0x1f).map { UInt8($0) },
            bidirectionalReadLength: 1024))),
    InitiatorFixture(name: "Task Management ABORT TASK", bhs: """
        42 81 00 00  00 00 00 00   # I, function 1
        00 01 00 00  00 00 00 00
        00 00 00 30  00 00 00 0a   # ITT, RTT
        00 00 00 11  00 00 00 21   # CmdSN, ExpStatSN
        00 00 00 10  00 00 00 03   # RefCmdSN, ExpDataSN
        00 00 00 00  00 00 00 00
        """,
        pdu: .taskManagement(TaskManagementRequest(function: 1, lun: lun1, initiatorTaskTag: 0x30, referencedTaskTag: 0x0a,
                                                   cmdSN: 0x11, expStatSN: 0x21, refCmdSN: 0x10, expDataSN: 3))),
    InitiatorFixture(name: "Login Request", bhs: """
        43 87 00 02  00 00 00 00   # I, T, CSG 1, NSG 3; VersionMax 0, VersionMin 2
        80 12 34 56  78 9a 00 00   # ISID, TSIH
        00 00 00 00  00 01 00 00   # ITT, CID 1
        00 00 00 01  00 00 00 00   # CmdSN, ExpStatSN
        00 00 00 00  00 00 00 00  00 00 00 00  00 00 00 00
        """,
        pdu: .login(LoginRequest(transit: true, currentStage: 1, nextStage: 3, versionMax: 0, versionMin: 2,
                                 isid: 0x8012_3456_789a, initiatorTaskTag: 0, cid: 1, cmdSN: 1))),
    InitiatorFixture(name: "Login Request C bit, TSIH", bhs: """
        43 40 00 00  00 00 00 00   # I, C, CSG 0, NSG 0
        00 02 3d 00  00 07 12 34   # ISID, TSIH 0x1234
        ff ff ff fe  00 00 00 00
        00 00 00 09  00 00 00 04
        00 00 00 00  00 00 00 00  00 00 00 00  00 00 00 00
        """,
        pdu: .login(LoginRequest(transit: false, continueFlag: true, currentStage: 0, nextStage: 0,
                                 isid: 0x0002_3d00_0007, tsih: 0x1234, initiatorTaskTag: 0xffff_fffe,
                                 cmdSN: 9, expStatSN: 4))),
    InitiatorFixture(name: "Text Request", bhs: """
        04 80 00 00  00 00 00 00
        00 00 00 00  00 00 00 00
        00 00 00 02  ff ff ff ff
        00 00 00 02  00 00 00 03
        00 00 00 00  00 00 00 00  00 00 00 00  00 00 00 00
        """,
        pdu: .text(TextRequest(initiatorTaskTag: 2, cmdSN: 2, expStatSN: 3))),
    InitiatorFixture(name: "Text Request C", bhs: """
        44 40 00 00  00 00 00 00
        00 00 00 00  00 00 00 00
        00 00 00 03  00 00 00 07
        00 00 00 02  00 00 00 03
        00 00 00 00  00 00 00 00  00 00 00 00  00 00 00 00
        """,
        pdu: .text(TextRequest(immediate: true, final: false, continueFlag: true, initiatorTaskTag: 3,
                               targetTransferTag: 7, cmdSN: 2, expStatSN: 3))),
    InitiatorFixture(name: "Data-Out", bhs: """
        05 80 00 00  00 00 00 00
        00 01 00 00  00 00 00 00
        00 00 00 0a  00 00 12 34   # ITT, TTT
        00 00 00 00  00 00 00 21   # reserved, ExpStatSN
        00 00 00 00  00 00 00 02   # reserved, DataSN
        00 00 20 00  00 00 00 00   # Buffer Offset, reserved
        """,
        pdu: .dataOut(DataOut(final: true, lun: lun1, initiatorTaskTag: 0x0a, targetTransferTag: 0x1234,
                              expStatSN: 0x21, dataSN: 2, bufferOffset: 0x2000))),
    InitiatorFixture(name: "Logout Request", bhs: """
        46 81 00 00  00 00 00 00   # I, reason 1 (close connection)
        00 00 00 00  00 00 00 00
        00 00 00 40  00 01 00 00   # ITT, CID
        00 00 00 12  00 00 00 22
        00 00 00 00  00 00 00 00  00 00 00 00  00 00 00 00
        """,
        pdu: .logout(LogoutRequest(reasonCode: 1, initiatorTaskTag: 0x40, cid: 1, cmdSN: 0x12, expStatSN: 0x22))),
    InitiatorFixture(name: "SNACK", bhs: """
        10 81 00 00  00 00 00 00   # type 1 (status)
        00 00 00 00  00 00 00 00
        ff ff ff ff  00 00 00 00
        00 00 00 00  00 00 00 23
        00 00 00 00  00 00 00 00
        00 00 00 05  00 00 00 02   # BegRun, RunLength
        """,
        pdu: .snack(SNACKRequest(type: 1, lun: 0, initiatorTaskTag: reservedTag, targetTransferTag: 0,
                                 expStatSN: 0x23, begRun: 5, runLength: 2))),
]

let targetFixtures: [TargetFixture] = {
    var bidi = SCSIResponsePDU(overflow: true, response: 0, status: 0, initiatorTaskTag: 0x0b, statSN: 8,
                               expCmdSN: 0x12, maxCmdSN: 0x31, expDataSN: 2, residualCount: 0x10)
    bidi.bidiReadOverflow = false
    bidi.bidiReadUnderflow = true
    bidi.bidiReadResidualCount = 0x100
    return [
    TargetFixture(name: "NOP-In", bhs: """
        20 80 00 00  00 00 00 00
        00 00 00 00  00 00 00 00
        ff ff ff ff  00 00 00 99   # ITT, TTT
        00 00 00 07  00 00 00 08   # StatSN, ExpCmdSN
        00 00 00 27  00 00 00 00   # MaxCmdSN
        00 00 00 00  00 00 00 00
        """,
        pdu: .nopIn(NOPIn(initiatorTaskTag: reservedTag, targetTransferTag: 0x99, statSN: 7, expCmdSN: 8, maxCmdSN: 0x27))),
    TargetFixture(name: "SCSI Response CHECK CONDITION underflow", bhs: """
        21 82 00 02  00 00 00 00   # F U; response 0, status CHECK CONDITION
        00 00 00 00  00 00 00 00
        00 00 00 0a  00 00 00 00   # ITT, SNACK tag
        00 00 00 07  00 00 00 08
        00 00 00 27  00 00 00 01   # MaxCmdSN, ExpDataSN
        00 00 00 00  00 00 02 00   # bidi residual, residual
        """,
        pdu: .scsiResponse(SCSIResponsePDU(underflow: true, status: 2, initiatorTaskTag: 0x0a, statSN: 7, expCmdSN: 8,
                                           maxCmdSN: 0x27, expDataSN: 1, residualCount: 0x200))),
    TargetFixture(name: "SCSI Response bidi flags", bhs: """
        21 8c 00 00  00 00 00 00   # F u O
        00 00 00 00  00 00 00 00
        00 00 00 0b  00 00 00 00
        00 00 00 08  00 00 00 12
        00 00 00 31  00 00 00 02
        00 00 01 00  00 00 00 10
        """,
        pdu: .scsiResponse(bidi)),
    TargetFixture(name: "Task Management Response", bhs: """
        22 80 01 00  00 00 00 00   # response 1 (task does not exist)
        00 00 00 00  00 00 00 00
        00 00 00 30  00 00 00 00
        00 00 00 09  00 00 00 13
        00 00 00 32  00 00 00 00
        00 00 00 00  00 00 00 00
        """,
        pdu: .taskManagementResponse(TaskManagementResponse(response: 1, initiatorTaskTag: 0x30, statSN: 9, expCmdSN: 0x13, maxCmdSN: 0x32))),
    TargetFixture(name: "Login Response success", bhs: """
        23 87 00 00  00 00 00 00
        80 12 34 56  78 9a 01 02   # ISID, TSIH
        00 00 00 00  00 00 00 00
        00 00 00 01  00 00 00 01   # StatSN, ExpCmdSN
        00 00 00 01  00 00 00 00   # MaxCmdSN, status 0/0
        00 00 00 00  00 00 00 00
        """,
        pdu: .loginResponse(LoginResponse(transit: true, currentStage: 1, nextStage: 3, isid: 0x8012_3456_789a, tsih: 0x0102,
                                          initiatorTaskTag: 0, statSN: 1, expCmdSN: 1, maxCmdSN: 1))),
    TargetFixture(name: "Login Response failure", bhs: """
        23 40 00 00  00 00 00 00   # C, CSG 0
        80 12 34 56  78 9a 00 00
        00 00 00 05  00 00 00 00
        00 00 00 00  00 00 00 02
        00 00 00 02  02 01 00 00   # status class 2, detail 1
        00 00 00 00  00 00 00 00
        """,
        pdu: .loginResponse(LoginResponse(transit: false, continueFlag: true, currentStage: 0, nextStage: 0,
                                          isid: 0x8012_3456_789a, tsih: 0, initiatorTaskTag: 5, statSN: 0,
                                          expCmdSN: 2, maxCmdSN: 2, statusClass: 2, statusDetail: 1))),
    TargetFixture(name: "Text Response", bhs: """
        24 80 00 00  00 00 00 00
        00 00 00 00  00 00 00 00
        00 00 00 02  ff ff ff ff
        00 00 00 02  00 00 00 03
        00 00 00 22  00 00 00 00
        00 00 00 00  00 00 00 00
        """,
        pdu: .textResponse(TextResponse(final: true, initiatorTaskTag: 2, targetTransferTag: reservedTag, statSN: 2,
                                        expCmdSN: 3, maxCmdSN: 0x22))),
    TargetFixture(name: "Data-In with status", bhs: """
        25 83 00 00  00 00 00 00   # F U S, status GOOD
        00 01 00 00  00 00 00 00
        00 00 00 0a  ff ff ff ff
        00 00 00 07  00 00 00 08   # StatSN, ExpCmdSN
        00 00 00 27  00 00 00 00   # MaxCmdSN, DataSN
        00 00 00 00  00 00 00 40   # Buffer Offset, residual
        """,
        pdu: .dataIn(DataIn(final: true, underflow: true, statusPresent: true, status: 0, lun: lun1,
                            initiatorTaskTag: 0x0a, statSN: 7, expCmdSN: 8, maxCmdSN: 0x27, dataSN: 0,
                            bufferOffset: 0, residualCount: 0x40))),
    TargetFixture(name: "Data-In without status", bhs: """
        25 40 00 00  00 00 00 00   # A
        00 01 00 00  00 00 00 00
        00 00 00 0a  00 00 00 44
        00 00 00 00  00 00 00 08
        00 00 00 27  00 00 00 01
        00 01 00 00  00 00 00 00
        """,
        pdu: .dataIn(DataIn(final: false, acknowledge: true, statusPresent: false, lun: lun1, initiatorTaskTag: 0x0a,
                            targetTransferTag: 0x44, statSN: 0, expCmdSN: 8, maxCmdSN: 0x27, dataSN: 1,
                            bufferOffset: 0x10000))),
    TargetFixture(name: "Logout Response", bhs: """
        26 80 00 00  00 00 00 00
        00 00 00 00  00 00 00 00
        00 00 00 40  00 00 00 00
        00 00 00 0a  00 00 00 13
        00 00 00 32  00 00 00 00
        00 02 00 14  00 00 00 00   # Time2Wait 2, Time2Retain 20
        """,
        pdu: .logoutResponse(LogoutResponse(response: 0, initiatorTaskTag: 0x40, statSN: 0x0a, expCmdSN: 0x13,
                                            maxCmdSN: 0x32, time2Wait: 2, time2Retain: 20))),
    TargetFixture(name: "R2T", bhs: """
        31 80 00 00  00 00 00 00
        00 01 00 00  00 00 00 00
        00 00 00 0b  00 00 12 34
        00 00 00 08  00 00 00 12
        00 00 00 31  00 00 00 01   # MaxCmdSN, R2TSN
        00 00 40 00  00 04 00 00   # Buffer Offset, Desired Data Transfer Length
        """,
        pdu: .r2t(R2T(lun: lun1, initiatorTaskTag: 0x0b, targetTransferTag: 0x1234, statSN: 8, expCmdSN: 0x12,
                      maxCmdSN: 0x31, r2tSN: 1, bufferOffset: 0x4000, desiredDataTransferLength: 0x40000))),
    TargetFixture(name: "Async Message", bhs: """
        32 80 00 00  00 00 00 00
        00 00 00 00  00 00 00 00
        ff ff ff ff  00 00 00 00
        00 00 00 0b  00 00 00 13
        00 00 00 32  01 00 00 00   # AsyncEvent 1 (logout request), VCode 0, Parameter1 0
        00 00 00 05  00 00 00 00   # Parameter2 0, Parameter3 5
        """,
        pdu: .asyncMessage(AsyncMessage(statSN: 0x0b, expCmdSN: 0x13, maxCmdSN: 0x32, asyncEvent: 1, parameter3: 5))),
    TargetFixture(name: "Reject", bhs: """
        3f 80 09 00  00 00 00 30   # reason 9 (invalid PDU field), DSL 48
        00 00 00 00  00 00 00 00
        ff ff ff ff  00 00 00 00
        00 00 00 0c  00 00 00 13
        00 00 00 32  00 00 00 00
        00 00 00 00  00 00 00 00
        """,
        pdu: .reject(Reject(reason: 9, statSN: 0x0c, expCmdSN: 0x13, maxCmdSN: 0x32))),
    ]
}()
