import Checksums

/// The SCSI identity IET derived for a LUN, reproduced so that initiators keep seeing the same
/// WWIDs (/dev/disk/by-id, multipath) after the switch (anchors §1.7).
public enum IETIdentity {
    /// Length of IET's `scsi_id` (kernel/iscsi.h `SCSI_ID_LEN`).
    public static let scsiIDLength = 16
    /// Maximum `ScsiSN` length accepted by IET's kernel (`SCSI_SN_LEN`, 32; the man page says 16).
    public static let scsiSNMaxLength = 32

    /// IET 1.4.20 kernel/volume.c `gen_scsiid`: MD5 over the target name bytes followed by the LUN as
    /// the kernel's in-memory `u32` (little-endian on x86, the only platform IET shipped on).
    /// - Parameters:
    ///   - targetName: The target name exactly as written in ietd.conf.
    ///   - lun: The LUN number.
    /// - Returns: 16 bytes.
    public static func defaultSCSIID(targetName: String, lun: UInt16) -> [UInt8] {
        let value = UInt32(lun)
        let lunBytes: [UInt8] = [
            UInt8(truncatingIfNeeded: value), UInt8(truncatingIfNeeded: value >> 8),
            UInt8(truncatingIfNeeded: value >> 16), UInt8(truncatingIfNeeded: value >> 24),
        ]
        return MD5.hash(concatenating: [Array(targetName.utf8), lunBytes])
    }

    /// An explicit `ScsiId=` value: its bytes, zero-padded to 16 (IET copies the string into a zeroed
    /// buffer). The caller has checked the length.
    public static func explicitSCSIID(_ value: String) -> [UInt8] {
        var bytes = Array(value.utf8.prefix(scsiIDLength))
        bytes.append(contentsOf: repeatElement(0, count: scsiIDLength - bytes.count))
        return bytes
    }

    /// IET 1.4.20 kernel/volume.c `volume_add`: without `ScsiSN`, the serial is `%02x` of each of
    /// the 16 `scsi_id` bytes.
    public static func defaultSCSISN(scsiID: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(scsiID.count * 2)
        for byte in scsiID {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
