/// INQUIRY standard data and VPD pages (SPC-4 §6.6, §7.8; SBC-3 §6.5), with the identity IET
/// presents so /dev/disk/by-id and multipath WWIDs stay the same after migration.
extension Emulator {
    /// SPC-4 §6.6.2: VERSION 05h (SPC-3). libiscsi accepts 4–6; SPC-3 also promises 16-bit
    /// allocation lengths, which we honour.
    static let inquiryVersion: UInt8 = 0x05
    /// SPC-4 §6.6.2 Table 146 version descriptors: SAM-3, iSCSI, SPC-3, SBC-3 (SBC-3 is what
    /// makes libiscsi expect READ CAPACITY(16), READ(16) and a 3Ch Block Limits page).
    static let versionDescriptors: [UInt16] = [0x0060, 0x0960, 0x0300, 0x04C0]
    /// Standard data length: 58 bytes up to the version descriptors + 8 descriptors × 2.
    static let standardInquiryLength = 74

    /// VPD pages listed in page 00h, ascending (SPC-4 §7.8.13).
    static let supportedVPDPages: [UInt8] = [0x00, 0x80, 0x83, 0x8F, 0xB0, 0xB1, 0xB2]
    /// VPD pages answered for a LUN with no logical unit.
    static let missingUnitVPDPages: [UInt8] = [0x00]

    /// PERIPHERAL QUALIFIER 000b, DEVICE TYPE 00h (direct access block device).
    static let peripheralDisk: UInt8 = 0x00
    /// SPC-4 §6.6.2: PERIPHERAL QUALIFIER 011b + DEVICE TYPE 1Fh: no logical unit here
    /// (IET's TYPE_NO_LUN 7Fh).
    static let peripheralNoUnit: UInt8 = 0x7F

    static func standardInquiry(unit: LogicalUnitInfo?) -> [UInt8] {
        var data: [UInt8] = []
        data.reserveCapacity(standardInquiryLength)
        data.append(unit == nil ? peripheralNoUnit : peripheralDisk)
        data.append(0x00)                 // RMB = 0: not removable
        data.append(inquiryVersion)
        data.append(0x02)                 // RESPONSE DATA FORMAT 2 (NormACA = 0, HiSup = 0 as IET)
        data.append(UInt8(standardInquiryLength - 5))  // ADDITIONAL LENGTH
        // SPC-4 §6.6.2: 3PC = 1 (EXTENDED COPY / RECEIVE COPY RESULTS); SCCS, ACC, TPGS, PROTECT 0. Kept for a
        // missing unit too: the rest of the data stays the target's (only the peripheral byte differs).
        data.append(0x08)
        data.append(0x00)                 // ENCSERV, MULTIP … 0
        data.append(0x02)                 // CMDQUE = 1
        data.appendASCII(unit?.vendor ?? "IET", width: 8)
        data.appendASCII(unit?.product ?? "VIRTUAL-DISK", width: 16)
        data.appendASCII(unit?.revision ?? "0", width: 4)
        data.appendZeros(58 - data.count)  // vendor specific, CLOCKING/QAS/IUS, reserved
        for descriptor in versionDescriptors { data.appendBE16(descriptor) }
        data.appendZeros(standardInquiryLength - data.count)
        return data
    }

    static func vpdPage(_ page: UInt8, unit: LogicalUnitInfo?) throws(SenseReason) -> [UInt8] {
        guard let unit else {
            // Only page 00h exists for a missing unit; it lists itself.
            guard page == 0x00 else { throw .invalidFieldInCDB }
            return [peripheralNoUnit, 0x00, 0x00, 0x01, 0x00]
        }
        let payload: [UInt8]
        switch page {
        case 0x00: payload = supportedVPDPages
        case 0x80: payload = unitSerialNumber(unit.serialNumber)
        case 0x83: payload = deviceIdentification(unit)
        case 0x8F: payload = thirdPartyCopy(unit)
        case 0xB0: payload = blockLimits(unit)
        case 0xB1: payload = blockDeviceCharacteristics(unit)
        case 0xB2: payload = logicalBlockProvisioning(unit)
        default: throw .invalidFieldInCDB
        }
        var data: [UInt8] = [peripheralDisk, page]
        data.appendBE16(UInt16(truncatingIfNeeded: payload.count))  // PAGE LENGTH (≤ 120 here)
        data.append(contentsOf: payload)
        return data
    }

    /// SPC-4 §7.8.15 Unit Serial Number, the IET way: right-aligned, space-padded to 16 bytes,
    /// or to 32 (IET SCSI_SN_LEN) when longer; longer serials are cut to 32, non-printable
    /// bytes are dropped.
    static func unitSerialNumber(_ serial: String) -> [UInt8] {
        let printable = serial.utf8.filter { (0x20...0x7E).contains($0) }
        let kept = Array(printable.prefix(32))
        let width = kept.count <= 16 ? 16 : 32
        var data: [UInt8] = []
        data.appendSpaces(width - kept.count)
        data.append(contentsOf: kept)
        return data
    }

    /// SPC-4 §7.8.6 Device Identification, exactly IET's single designator (IET 1.4.20
    /// `build_inquiry_response`): CODE SET 1 (binary), ASSOCIATION 0 (logical unit),
    /// DESIGNATOR TYPE 1 (T10 vendor ID), length 24 = vendor ZERO-padded to 8 (IET memsets 0,
    /// then copies "IET") + the 16-byte ScsiId (zero-padded / cut to 16).
    static func deviceIdentification(_ unit: LogicalUnitInfo) -> [UInt8] {
        var data: [UInt8] = [0x01, 0x01, 0x00, 24]
        let vendor = unit.vendor.utf8.prefix(8)
        data.append(contentsOf: vendor)
        data.appendZeros(8 - vendor.count)
        let id = unit.scsiID.prefix(16)
        data.append(contentsOf: id)
        data.appendZeros(16 - id.count)
        return data
    }

    /// SBC-3 §6.5.3 / SBC-4 §6.6.4 Block Limits, PAGE LENGTH 3Ch (the SBC-3 size libiscsi requires; SBC-4 fills its
    /// last 20 bytes with the atomic write limits).
    static func blockLimits(_ unit: LogicalUnitInfo) -> [UInt8] {
        // WSNZ = 0 (WRITE SAME with 0 blocks = to the end); MAXIMUM COMPARE AND WRITE LENGTH.
        var data: [UInt8] = [0x00, unit.maximumCompareAndWriteBlocks]
        // OPTIMAL TRANSFER LENGTH GRANULARITY: one physical block.
        let exponent = unit.physicalBlockExponent & 0x0F
        data.appendBE16(UInt16(1) << UInt16(exponent))
        data.appendBE32(unit.maximumTransferBlocks)  // MAXIMUM TRANSFER LENGTH (0 = none)
        data.appendBE32(unit.optimalTransferBlocks)  // OPTIMAL TRANSFER LENGTH
        data.appendBE32(0)                           // MAXIMUM PREFETCH LENGTH: not reported
        if unit.thinProvisioning {
            data.appendBE32(unit.maximumUnmapBlocks)        // MAXIMUM UNMAP LBA COUNT
            data.appendBE32(unit.maximumUnmapDescriptors)   // MAXIMUM UNMAP BLOCK DESCRIPTOR COUNT
            data.appendBE32(UInt32(1) << UInt32(exponent))  // OPTIMAL UNMAP GRANULARITY: a physical block
            data.appendBE32(0x8000_0000)                    // UGAVALID = 1, UNMAP GRANULARITY ALIGNMENT 0
        } else {
            data.appendZeros(16)
        }
        data.appendBE64(unit.effectiveMaximumWriteSameBlocks)  // MAXIMUM WRITE SAME LENGTH
        // SBC-4 §6.6.4 atomic write limits (all 0 = WRITE ATOMIC not supported): MAXIMUM ATOMIC TRANSFER LENGTH,
        // ATOMIC ALIGNMENT, ATOMIC TRANSFER LENGTH GRANULARITY; no atomic boundaries (MAXIMUM ATOMIC TRANSFER
        // LENGTH WITH ATOMIC BOUNDARY 0, MAXIMUM ATOMIC BOUNDARY SIZE 0).
        let atomic = unit.maximumAtomicTransferBlocks != 0
        data.appendBE32(unit.maximumAtomicTransferBlocks)
        data.appendBE32(atomic ? unit.atomicAlignment : 0)
        data.appendBE32(atomic ? unit.atomicTransferLengthGranularity : 0)
        data.appendZeros(0x3C - data.count)
        return data
    }

    /// SBC-3 §6.5.2 Block Device Characteristics, PAGE LENGTH 3Ch.
    static func blockDeviceCharacteristics(_ unit: LogicalUnitInfo) -> [UInt8] {
        var data: [UInt8] = []
        data.appendBE16(unit.mediumRotationRate)  // 0 = not reported, 1 = non-rotating
        data.appendZeros(0x3C - data.count)       // PRODUCT TYPE, NOMINAL FORM FACTOR …: 0
        return data
    }

    /// SBC-3 §6.5.4 Logical Block Provisioning, PAGE LENGTH 4. Thin units: LBPU (UNMAP), LBPWS (WRITE
    /// SAME(16) with UNMAP), LBPWS10, LBPRZ as the unit says, PROVISIONING TYPE 010b (thin); fully
    /// provisioned units report nothing.
    static func logicalBlockProvisioning(_ unit: LogicalUnitInfo) -> [UInt8] {
        guard unit.thinProvisioning else { return [0x00, 0x00, 0x00, 0x00] }
        // THRESHOLD EXPONENT 0; byte 1: LBPU 80h, LBPWS 40h, LBPWS10 20h, LBPRZ 04h, ANC_SUP 0, DP 0.
        let flags: UInt8 = 0x80 | 0x40 | 0x20 | (unit.readsZerosAfterUnmap ? 0x04 : 0x00)
        return [0x00, flags, 0x02, 0x00]
    }
}
