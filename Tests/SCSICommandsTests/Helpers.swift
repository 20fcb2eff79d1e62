import SCSICommands

/// Bytes from a hex string; spaces, newlines and `|` separators are ignored. Test-only: traps
/// on malformed literals, which are programmer errors in fixtures.
func hex(_ text: String) -> [UInt8] {
    let digits = text.filter { $0.isHexDigit }
    precondition(digits.count % 2 == 0, "odd hex literal: \(text)")
    var bytes: [UInt8] = []
    var index = digits.startIndex
    while index < digits.endIndex {
        let next = digits.index(index, offsetBy: 2)
        bytes.append(UInt8(digits[index..<next], radix: 16)!)
        index = next
    }
    return bytes
}

/// The logical unit most tests use: 512-byte blocks, 1000 blocks, writable.
let disk = LogicalUnitInfo(
    lun: 0, blockSize: 512, blockCount: 1000,
    scsiID: Array("0123456789abcdef".utf8), serialNumber: "SN42",
    maximumTransferBlocks: 256, optimalTransferBlocks: 64)

/// IOMode=ro variant.
let readOnlyDisk: LogicalUnitInfo = {
    var unit = disk
    unit.readOnly = true
    return unit
}()

/// Parses and returns the result as a `Result` so table tests can compare either outcome.
func parseResult(_ cdb: [UInt8], unit: LogicalUnitInfo = disk) -> Result<ParsedCommand, SenseReason> {
    do throws(SenseReason) {
        return .success(try CommandParser.parse(cdb, unit: unit))
    } catch {
        return .failure(error)
    }
}

extension ParsedCommand {
    static func read(_ lba: UInt64, _ blocks: UInt32, fua: Bool = false, blockSize: UInt32 = 512) -> ParsedCommand {
        ParsedCommand(command: .read(lba: lba, blocks: blocks, fua: fua), direction: .fromTarget,
                      transferLength: blocks * blockSize)
    }

    static func write(_ lba: UInt64, _ blocks: UInt32, fua: Bool = false, blockSize: UInt32 = 512) -> ParsedCommand {
        ParsedCommand(command: .write(lba: lba, blocks: blocks, fua: fua), direction: .toTarget,
                      transferLength: blocks * blockSize)
    }

    static func emulated(_ command: EmulatedCommand, _ direction: DataDirection, _ length: UInt32) -> ParsedCommand {
        ParsedCommand(command: .emulated(command), direction: direction, transferLength: length)
    }
}
