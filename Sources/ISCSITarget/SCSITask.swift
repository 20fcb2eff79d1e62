import BlockStore
import ISCSIWire
import SCSICommands

/// One SCSI command in flight on a connection (RFC 7143 §4.2.2 "task").
final class SCSITask {
    let pdu: SCSICommandPDU
    var itt: UInt32 { pdu.initiatorTaskTag }
    let lunNumber: UInt16?
    let unit: LogicalUnit?
    /// Result of CDB parsing; nil when `sense` is set.
    var parsed: ParsedCommand?
    /// A SCSI error decided before execution (answered with CHECK CONDITION once the data-out phase is over).
    var sense: SenseReason?
    /// A status without sense decided before execution (TASK SET FULL when over the buffer budget).
    var statusOnly: SCSIStatus?
    /// Buffer bytes charged to the connection's budget for this command.
    var committedBytes = 0

    /// Bytes of data-out we accept for this command: min(EDTL, what the CDB moves) — RFC 7143 §11.4.5.
    var dataOutLength: Int = 0
    /// Data-out bytes received so far (immediate + unsolicited + solicited).
    var dataOutReceived: Int = 0
    /// Unsolicited bytes still allowed (FirstBurstLength, RFC 7143 §13.14), counting immediate data.
    var unsolicitedLimit: Int = 0
    /// Next offset to solicit with R2T, R2Ts outstanding, R2TSN.
    var nextR2TOffset: Int = 0
    var outstandingR2Ts: [UInt32: (offset: Int, length: Int, received: Int, nextDataSN: UInt32)] = [:]
    var r2tSN: UInt32 = 0
    var dataSN: UInt32 = 0
    /// Expected DataSN of the next unsolicited Data-Out sequence.
    var expectedDataOutSN: UInt32 = 0

    /// The I/O buffer (aligned) for reads and writes.
    var buffer: IOBuffer?
    /// Bytes for emulated commands' data-in.
    var emulatedData: [UInt8]?

    /// CmdSN window decision taken at header time, applied when the PDU is complete.
    var admission: Connection.Admission?
    /// Set when the command was admitted to execution (CmdSN window).
    var admitted = false
    var executing = false
    /// The task was aborted (TMF) or the connection is closing: complete silently.
    var aborted = false
    /// Data-out finished arriving.
    var dataComplete: Bool { dataOutReceived >= dataOutLength }

    /// The loop's live-task counter (queue-depth signal for polling), when the task belongs to a loop.
    private let load: LoopLoad?

    init(pdu: SCSICommandPDU, lunNumber: UInt16?, unit: LogicalUnit?, load: LoopLoad? = nil) {
        self.pdu = pdu
        self.lunNumber = lunNumber
        self.unit = unit
        self.load = load
        load?.activeTasks += 1
    }

    deinit {
        guard let load else { return }
        load.activeTasks -= 1
        load.recycle(cdb: pdu.cdb)
    }
}
