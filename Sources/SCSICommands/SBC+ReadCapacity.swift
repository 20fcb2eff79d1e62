/// READ CAPACITY(10)/(16) (SBC-3 §5.15, §5.16).
extension Emulator {
    /// Last LBA, or 0 for an empty medium (every access to it is then out of range).
    static func lastLBA(_ unit: LogicalUnitInfo) -> UInt64 {
        unit.blockCount == 0 ? 0 : unit.blockCount - 1
    }

    static func readCapacity10(_ unit: LogicalUnitInfo) -> [UInt8] {
        var data: [UInt8] = []
        // SBC-3 §5.15.2: a last LBA above FFFFFFFEh is reported as FFFFFFFFh, telling the
        // initiator to use READ CAPACITY(16).
        data.appendBE32(UInt32(clamping: min(lastLBA(unit), 0xFFFF_FFFF)))
        data.appendBE32(unit.blockSize)
        return data
    }

    static func readCapacity16(_ unit: LogicalUnitInfo) -> [UInt8] {
        var data: [UInt8] = []
        data.appendBE64(lastLBA(unit))
        data.appendBE32(unit.blockSize)
        data.append(0x00)  // P_TYPE = 0, PROT_EN = 0: no protection information
        // P_I_EXPONENT = 0; LOGICAL BLOCKS PER PHYSICAL BLOCK EXPONENT in bits 3–0.
        data.append(unit.physicalBlockExponent & 0x0F)
        // SBC-3 §5.16.2: LBPME (byte 14 bit 7) and LBPRZ (bit 6) match the Logical Block Provisioning VPD
        // page; LOWEST ALIGNED LOGICAL BLOCK ADDRESS 0.
        var lbp: UInt8 = 0
        if unit.thinProvisioning { lbp |= 0x80 }
        if unit.thinProvisioning && unit.readsZerosAfterUnmap { lbp |= 0x40 }
        data.append(lbp)
        data.append(0x00)
        data.appendZeros(32 - data.count)
        return data
    }
}
