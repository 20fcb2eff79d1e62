/// RECEIVE COPY RESULTS (LID1, SPC-4 §6.18) data, the Third-party Copy VPD page (SPC-4 §7.8.17) and the bounded
/// table of held copy results.
extension Emulator {
    /// One designation descriptor of VPD page 83h, decoded.
    public struct Designator: Sendable, Hashable {
        public var codeSet: UInt8
        public var association: UInt8
        public var type: UInt8
        public var bytes: [UInt8]
    }

    /// The unit's VPD 83h designators (what an E4h CSCD descriptor must name, SPC-4 §6.4.5.4).
    public static func designators(of unit: LogicalUnitInfo) -> [Designator] {
        let page = deviceIdentification(unit)
        var result: [Designator] = []
        var offset = 0
        while page.count - offset >= 4 {
            let length = Int(page[offset + 3])
            guard page.count - offset - 4 >= length else { break }
            result.append(Designator(codeSet: page[offset] & 0x0F, association: (page[offset + 1] >> 4) & 0x03,
                                     type: page[offset + 1] & 0x0F,
                                     bytes: Array(page[(offset + 4)..<(offset + 4 + length)])))
            offset += 4 + length
        }
        return result
    }

    /// log2 of the block length: DATA SEGMENT GRANULARITY (segments move whole blocks).
    static func blockGranularity(_ unit: LogicalUnitInfo) -> UInt8 {
        UInt8(truncatingIfNeeded: UInt32(unit.blockSize).trailingZeroBitCount)
    }

    /// RECEIVE COPY RESULTS OPERATING PARAMETERS (SPC-4 §6.18.4 Table 354).
    public static func copyOperatingParameters(_ unit: LogicalUnitInfo) -> [UInt8] {
        var data: [UInt8] = []
        data.appendBE32(0)                                               // AVAILABLE DATA, set below
        data.append(0x01)                                                // SNLID: LIST ID USAGE 11b supported
        data.appendZeros(3)
        data.appendBE16(UInt16(XCopyLimits.maximumCSCDDescriptors))     // MAXIMUM CSCD DESCRIPTOR COUNT
        data.appendBE16(UInt16(XCopyLimits.maximumSegmentDescriptors))  // MAXIMUM SEGMENT DESCRIPTOR COUNT
        data.appendBE32(UInt32(XCopyLimits.maximumDescriptorListLength))
        data.appendBE32(UInt32(XCopyLimits.maximumSegmentBytes))        // MAXIMUM SEGMENT LENGTH
        data.appendBE32(0)                                               // MAXIMUM INLINE DATA LENGTH
        data.appendBE32(0)                                               // HELD DATA LIMIT
        data.appendBE32(0)                                               // MAXIMUM STREAM DEVICE TRANSFER SIZE
        data.appendZeros(2)
        data.appendBE16(UInt16(XCopyLimits.maximumConcurrentCopies))    // TOTAL CONCURRENT COPIES
        data.append(UInt8(XCopyLimits.maximumConcurrentCopies))         // MAXIMUM CONCURRENT COPIES
        data.append(blockGranularity(unit))                              // DATA SEGMENT GRANULARITY
        data.append(0)                                                   // INLINE DATA GRANULARITY
        data.append(0)                                                   // HELD DATA GRANULARITY
        data.appendZeros(3)
        data.append(UInt8(XCopyLimits.implementedDescriptorTypes.count))
        data.append(contentsOf: XCopyLimits.implementedDescriptorTypes)
        let available = UInt32(data.count - 4)
        data[0] = UInt8(truncatingIfNeeded: available >> 24)
        data[1] = UInt8(truncatingIfNeeded: available >> 16)
        data[2] = UInt8(truncatingIfNeeded: available >> 8)
        data[3] = UInt8(truncatingIfNeeded: available)
        return data
    }

    /// SPC-4 §7.8.17 Third-party Copy VPD page payload: the descriptors SPC-4 requires of a copy manager that
    /// supports EXTENDED COPY (LID1) — Supported Commands, Parameter Data, Supported Descriptors, Supported CSCD
    /// Descriptor IDs, General Copy Operations. Every descriptor is padded to a multiple of four bytes.
    static func thirdPartyCopy(_ unit: LogicalUnitInfo) -> [UInt8] {
        var page: [UInt8] = []
        func descriptor(_ type: UInt16, _ body: [UInt8]) {
            var padded = body
            padded.appendZeros((4 - body.count % 4) % 4)
            page.appendBE16(type)
            page.appendBE16(UInt16(padded.count))
            page.append(contentsOf: padded)
        }
        // Supported Commands (0001h): 83h/00h EXTENDED COPY(LID1); 84h/00h,03h,04h RECEIVE COPY RESULTS.
        var commands: [UInt8] = [0x83, 1, 0x00]
        commands += [0x84, UInt8(CopyResultsRequest.ServiceAction.allCases.count)]
        commands += CopyResultsRequest.ServiceAction.allCases.map(\.rawValue)
        descriptor(0x0001, [UInt8(commands.count)] + commands)
        // Parameter Data (0004h).
        var parameters: [UInt8] = [0, 0]
        parameters.appendBE16(UInt16(XCopyLimits.maximumCSCDDescriptors))
        parameters.appendBE16(UInt16(XCopyLimits.maximumSegmentDescriptors))
        parameters.appendBE32(UInt32(XCopyLimits.maximumDescriptorListLength))
        parameters.appendBE32(0)  // MAXIMUM INLINE DATA LENGTH
        parameters.appendZeros(0x1C - parameters.count)
        descriptor(0x0004, parameters)
        // Supported Descriptors (0008h).
        descriptor(0x0008, [UInt8(XCopyLimits.implementedDescriptorTypes.count)] + XCopyLimits.implementedDescriptorTypes)
        // Supported CSCD Descriptor IDs (000Ch): none (only descriptors, no CSCD IDs).
        descriptor(0x000C, [0, 0])
        // General Copy Operations (8001h).
        var general: [UInt8] = []
        general.appendBE32(UInt32(XCopyLimits.maximumConcurrentCopies))  // TOTAL CONCURRENT COPIES
        general.appendBE32(UInt32(XCopyLimits.maximumConcurrentCopies))  // MAXIMUM IDENTIFIED CONCURRENT COPIES
        general.appendBE32(UInt32(XCopyLimits.maximumSegmentBytes))      // MAXIMUM SEGMENT LENGTH
        general.append(blockGranularity(unit))                            // DATA SEGMENT GRANULARITY
        general.append(0)                                                 // INLINE DATA GRANULARITY
        general.appendZeros(0x20 - general.count)
        descriptor(0x8001, general)
        return page
    }
}

/// SPC-4 §6.18.3 Table 352 COPY MANAGER STATUS.
public enum CopyManagerStatus: UInt8, Sendable, Hashable {
    case inProgress = 0x00
    case completed = 0x01
    case completedWithErrors = 0x02
}

/// Held results of EXTENDED COPY commands, keyed by (logical unit, I_T nexus, LIST IDENTIFIER) in `Key`, with at
/// most `capacity` records: the oldest finished record makes room for a new one; when every record is a copy in
/// progress the new copy runs without held results (SPC-4 §6.4.3 lets the copy manager limit held data).
public struct CopyResultsTable<Key: Hashable & Sendable>: Sendable {
    public struct Record: Sendable, Hashable {
        public var status: CopyManagerStatus
        public var segmentsProcessed: UInt16
        public var bytesTransferred: UInt64
        /// Status the EXTENDED COPY ended with (FAILED SEGMENT DETAILS COPY COMMAND STATUS).
        public var commandStatus: SCSIStatus
        /// Fixed-format sense of a failed EXTENDED COPY (FAILED SEGMENT DETAILS).
        public var failureSense: [UInt8]?
    }

    public let capacity: Int
    private var records: [Key: Record] = [:]
    /// Insertion order, oldest first (≤ capacity entries).
    private var order: [Key] = []

    public init(capacity: Int) { self.capacity = max(1, capacity) }

    public var count: Int { records.count }
    public var inProgressCount: Int { records.values.filter { $0.status == .inProgress }.count }

    public func record(_ key: Key) -> Record? { records[key] }

    /// Starts holding results for `key`.
    /// - Returns: false when the table is full of copies in progress (the copy runs, nothing is held).
    /// - Throws: OPERATION IN PROGRESS when a copy with the same key is still running (SPC-4 §6.4.3).
    public mutating func begin(_ key: Key) throws(SenseReason) -> Bool {
        if let existing = records[key] {
            if existing.status == .inProgress { throw .operationInProgress }
            remove(key)
        }
        if records.count >= capacity {
            guard let victim = order.first(where: { records[$0]?.status != .inProgress }) else { return false }
            remove(victim)
        }
        records[key] = Record(status: .inProgress, segmentsProcessed: 0, bytesTransferred: 0, commandStatus: .good,
                              failureSense: nil)
        order.append(key)
        return true
    }

    /// Progress after a segment (or part of one) was copied.
    public mutating func progress(_ key: Key, segmentsProcessed: Int, bytesTransferred: UInt64) {
        guard var r = records[key] else { return }
        r.segmentsProcessed = UInt16(clamping: segmentsProcessed)
        r.bytesTransferred = bytesTransferred
        records[key] = r
    }

    /// The copy ended with `status` (GOOD, CHECK CONDITION with `sense`, RESERVATION CONFLICT, …).
    public mutating func finish(_ key: Key, status: SCSIStatus, sense: SenseReason?) {
        guard var r = records[key] else { return }
        r.status = status == .good ? .completed : .completedWithErrors
        r.commandStatus = status
        r.failureSense = sense.map { SenseData.build($0, format: .fixed) }
        records[key] = r
    }

    /// Forgets every record whose key matches (I_T nexus loss, logical unit removal).
    public mutating func removeAll(where matches: (Key) -> Bool) {
        for key in order where matches(key) { records[key] = nil }
        order.removeAll(where: matches)
    }

    private mutating func remove(_ key: Key) {
        records[key] = nil
        order.removeAll { $0 == key }
    }

    /// COPY STATUS parameter data (SPC-4 §6.18.3 Table 351).
    /// - Throws: INVALID FIELD IN CDB when no results are held for `key` (libiscsi ReceiveCopyResults.CopyStatus).
    public func copyStatus(_ key: Key) throws(SenseReason) -> [UInt8] {
        guard let r = records[key] else { throw .invalidFieldInCDBAt(byte: 2, bit: nil) }
        var data: [UInt8] = []
        data.appendBE32(8)                 // AVAILABLE DATA
        data.append(r.status.rawValue)     // HDD = 0, COPY MANAGER STATUS
        data.appendBE16(r.segmentsProcessed)
        // TRANSFER COUNT UNITS (Table 353): 00h bytes, 01h KiB, 02h MiB, … — the smallest unit the count fits.
        var units: UInt8 = 0
        var count = r.bytesTransferred
        while count > UInt64(UInt32.max) { count >>= 10; units += 1 }
        data.append(units)
        data.appendBE32(UInt32(truncatingIfNeeded: count))
        return data
    }

    /// FAILED SEGMENT DETAILS parameter data (SPC-4 §6.18.5 Table 356): AVAILABLE DATA 0 while the copy runs;
    /// otherwise the EXTENDED COPY status and, for a failure, its sense data.
    public func failedSegmentDetails(_ key: Key) throws(SenseReason) -> [UInt8] {
        guard let r = records[key] else { throw .invalidFieldInCDBAt(byte: 2, bit: nil) }
        var data: [UInt8] = []
        if r.status == .inProgress {
            data.appendBE32(0)
            return data
        }
        let sense = r.failureSense ?? []
        data.appendBE32(UInt32(56 + sense.count))  // AVAILABLE DATA = n − 3
        data.appendZeros(52)
        data.append(r.commandStatus.rawValue)      // COPY COMMAND STATUS
        data.append(0)
        data.appendBE16(UInt16(sense.count))       // SENSE DATA LENGTH
        data.append(contentsOf: sense)
        return data
    }
}
