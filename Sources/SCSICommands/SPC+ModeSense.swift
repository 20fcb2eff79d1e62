/// MODE SENSE(6)/(10) (SPC-4 §6.11, §6.12, §7.5) with the pages a Linux/Windows initiator asks
/// for: Read-Write Error Recovery (01h), Caching (08h), Control (0Ah), Informational
/// Exceptions Control (1Ch). No MODE SELECT, so every changeable mask is zero.
extension Emulator {
    /// Page code meaning "return all pages".
    static let allModePages: UInt8 = 0x3F
    /// Supported pages in the order 3Fh returns them (ascending, SPC-4 §6.11.1).
    static let supportedModePages: [UInt8] = [0x01, 0x08, 0x0A, 0x1C]

    /// SBC-3 §6.4.1 device-specific parameter: WP (bit 7), DPOFUA (bit 4).
    static func deviceSpecificParameter(_ unit: LogicalUnitInfo) -> UInt8 {
        (unit.readOnly ? 0x80 : 0x00) | 0x10
    }

    static func modeSense(_ request: ModeSenseRequest, unit: LogicalUnitInfo, senseFormat: SenseFormat) -> [UInt8] {
        var pages: [UInt8] = []
        let codes = request.pageCode == allModePages ? supportedModePages : [request.pageCode]
        for code in codes {
            pages.append(contentsOf: modePage(code, control: request.pageControl, unit: unit, senseFormat: senseFormat))
        }

        // SBC-3 §6.4.2: block descriptor unless DBD; the long (16-byte) form only in MODE
        // SENSE(10) with LLBAA = 1.
        var descriptor: [UInt8] = []
        let longLBA = request.isTenByte && request.longLBAAccepted
        if !request.disableBlockDescriptors {
            if longLBA {
                descriptor.appendBE64(unit.blockCount)
                descriptor.appendZeros(4)
                descriptor.appendBE32(unit.blockSize)
            } else {
                // NUMBER OF LOGICAL BLOCKS saturates at FFFFFFFFh (SBC-3 §6.4.2.2).
                descriptor.appendBE32(UInt32(clamping: min(unit.blockCount, 0xFFFF_FFFF)))
                descriptor.append(0x00)  // reserved (density code)
                descriptor.append(UInt8(truncatingIfNeeded: unit.blockSize >> 16))
                descriptor.append(UInt8(truncatingIfNeeded: unit.blockSize >> 8))
                descriptor.append(UInt8(truncatingIfNeeded: unit.blockSize))
            }
        }

        var data: [UInt8] = []
        let deviceSpecific = deviceSpecificParameter(unit)
        if request.isTenByte {
            // SPC-4 §7.5.5 Table 359: MODE DATA LENGTH excludes its own 2 bytes.
            let total = 8 + descriptor.count + pages.count
            data.appendBE16(UInt16(truncatingIfNeeded: total - 2))
            data.append(0x00)  // MEDIUM TYPE
            data.append(deviceSpecific)
            data.append(longLBA && !descriptor.isEmpty ? 0x01 : 0x00)  // LONGLBA
            data.append(0x00)
            data.appendBE16(UInt16(truncatingIfNeeded: descriptor.count))
        } else {
            // SPC-4 §7.5.5 Table 358: MODE DATA LENGTH excludes its own byte (≤ 255 here: the
            // largest reply is 4 + 8 + 56 bytes).
            let total = 4 + descriptor.count + pages.count
            data.append(UInt8(truncatingIfNeeded: total - 1))
            data.append(0x00)
            data.append(deviceSpecific)
            data.append(UInt8(truncatingIfNeeded: descriptor.count))
        }
        data.append(contentsOf: descriptor)
        data.append(contentsOf: pages)
        return data
    }

    static func modePage(
        _ code: UInt8, control pageControl: ModeSenseRequest.PageControl,
        unit: LogicalUnitInfo, senseFormat: SenseFormat
    ) -> [UInt8] {
        let changeable = pageControl == .changeable
        switch code {
        case 0x08:
            // SBC-3 §6.4.5 Caching page, PAGE LENGTH 12h; WCE (byte 2 bit 2) from IOMode=wb.
            var page: [UInt8] = [0x08, 0x12]
            page.append(!changeable && unit.writeCacheEnabled ? 0x04 : 0x00)
            page.appendZeros(20 - page.count)
            return page
        case 0x0A:
            // SPC-4 §7.5.8 Control page, PAGE LENGTH 0Ah.
            var page: [UInt8] = [0x0A, 0x0A]
            if changeable {
                page.appendZeros(10)
                return page
            }
            page.append(senseFormat == .descriptor ? 0x04 : 0x00)  // TST 0, D_SENSE (bit 2)
            page.append(0x10)        // QUEUE ALGORITHM MODIFIER 1 (unrestricted), QERR 0
            page.append(0x00)        // RAC, UA_INTLCK_CTRL 0, SWP 0
            page.append(0x00)        // ATO, TAS, AUTOLOAD MODE 0
            page.appendZeros(2)      // obsolete
            page.appendBE16(0xFFFF)  // BUSY TIMEOUT PERIOD: unlimited
            page.appendBE16(0x0000)  // EXTENDED SELF-TEST COMPLETION TIME
            return page
        default:
            // 01h Read-Write Error Recovery (SBC-3 §6.4.7) and 1Ch Informational Exceptions
            // Control (SPC-4 §7.5.10): PAGE LENGTH 0Ah, all fields 0.
            var page: [UInt8] = [code, 0x0A]
            page.appendZeros(10)
            return page
        }
    }
}
