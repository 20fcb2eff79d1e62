/// REPORT LUNS (SPC-4 §6.33).
extension Emulator {
    static func reportLUNs(_ luns: [UInt16], selectReport: UInt8) -> [UInt8] {
        // SELECT REPORT 01h reports only well-known LUNs, of which we have none.
        let listed = selectReport == 0x01 ? [] : Array(Set(luns)).sorted()
        var data: [UInt8] = []
        data.reserveCapacity(8 + listed.count * 8)
        // LUN LIST LENGTH in bytes; at most 65536 LUNs × 8, so it fits in 32 bits.
        data.appendBE32(UInt32(truncatingIfNeeded: listed.count * 8))
        data.appendZeros(4)
        for lun in listed { data.append(contentsOf: encodeLUN(lun)) }
        return data
    }

    /// SAM-5 §4.7 single-level LUN, the same scheme as ISCSIWire.SAMLUN: peripheral device
    /// addressing below 256, flat space below 16384, extended flat space (D2h) above.
    static func encodeLUN(_ lun: UInt16) -> [UInt8] {
        if lun < 256 { return [0x00, UInt8(lun), 0, 0, 0, 0, 0, 0] }
        if lun < 16384 {
            return [0x40 | UInt8(truncatingIfNeeded: lun >> 8), UInt8(truncatingIfNeeded: lun), 0, 0, 0, 0, 0, 0]
        }
        return [0xD2, 0x00, UInt8(truncatingIfNeeded: lun >> 8), UInt8(truncatingIfNeeded: lun), 0, 0, 0, 0]
    }
}
