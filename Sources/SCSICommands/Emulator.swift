/// Per-command state the emulated commands need besides the logical unit.
public struct EmulationContext: Sendable, Hashable {
    /// LUNs of the target as seen by this session (REPORT LUNS).
    public var lunList: [UInt16]
    /// Sense format in use for this logical unit; reported as D_SENSE in the Control mode page.
    public var senseFormat: SenseFormat
    /// Sense data REQUEST SENSE returns (and the runtime then clears); nil → NO SENSE.
    public var pendingSense: SenseReason?

    public init(lunList: [UInt16] = [], senseFormat: SenseFormat = .fixed, pendingSense: SenseReason? = nil) {
        self.lunList = lunList
        self.senseFormat = senseFormat
        self.pendingSense = pendingSense
    }
}

/// Step 2 for emulated commands: builds the data-in bytes.
public enum Emulator {
    /// Executes an emulated command.
    /// - Parameters:
    ///   - command: from `CommandParser.parse` / `parseForMissingUnit`.
    ///   - unit: the addressed logical unit, or nil for a LUN with nothing behind it.
    ///   - context: LUN list, sense format and pending sense.
    /// - Returns: the FULL response; the runtime sends at most min(allocation length, EDTL)
    ///   bytes and sets residuals from the count it actually sends. Empty for commands with
    ///   no data.
    /// - Throws: `.logicalUnitNotSupported` when a command that needs a unit gets nil.
    public static func execute(
        _ command: EmulatedCommand, unit: LogicalUnitInfo?, context: EmulationContext
    ) throws(SenseReason) -> [UInt8] {
        switch command {
        case .inquiry(let evpd, let pageCode, _):
            if evpd { return try vpdPage(pageCode, unit: unit) }
            return standardInquiry(unit: unit)
        case .reportLUNs(let selectReport, _):
            return reportLUNs(context.lunList, selectReport: selectReport)
        case .requestSense(let descriptorFormat, _):
            // SPC-4 §6.29: for an incorrect logical unit, REQUEST SENSE returns LOGICAL UNIT
            // NOT SUPPORTED as parameter data with GOOD status.
            let reason = unit == nil ? .logicalUnitNotSupported : (context.pendingSense ?? .noSense)
            return SenseData.build(reason, format: descriptorFormat ? .descriptor : .fixed)
        case .testUnitReady, .startStopUnit:
            guard unit != nil else { throw .logicalUnitNotSupported }
            return []
        case .readCapacity10:
            guard let unit else { throw .logicalUnitNotSupported }
            return readCapacity10(unit)
        case .readCapacity16:
            guard let unit else { throw .logicalUnitNotSupported }
            return readCapacity16(unit)
        case .modeSense(let request):
            guard let unit else { throw .logicalUnitNotSupported }
            return modeSense(request, unit: unit, senseFormat: context.senseFormat)
        case .reportSupportedOpcodes(let request):
            guard let unit else { throw .logicalUnitNotSupported }
            return try reportSupportedOpcodes(request, commands: supportedCommands(for: unit))
        case .readDefectData(let twelveByte, let primary, let grown, let format, _):
            guard unit != nil else { throw .logicalUnitNotSupported }
            return readDefectData(twelveByte: twelveByte, primary: primary, grown: grown, format: format)
        case .preventAllowMediumRemoval:
            guard unit != nil else { throw .logicalUnitNotSupported }
            return []
        }
    }
}
