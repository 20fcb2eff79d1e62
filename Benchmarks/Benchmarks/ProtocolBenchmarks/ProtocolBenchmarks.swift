// Microbenchmarks of the pure protocol modules: the BHS codec, the PDU framer over a byte stream,
// the login negotiation (TextCodec + LoginStateMachine on open-iscsi's key set) and CRC32C.
// Benchmarks measure; they assert nothing. Run: `cd Benchmarks && swift package benchmark`.

import Benchmark
import Checksums
import ISCSINegotiation
import ISCSIWire

// MARK: - Fixtures

/// A READ(10) SCSI Command PDU for 8 blocks at LBA 0x1234 (RFC 7143 §11.3), as wire bytes.
private func readCommandBHS(itt: UInt32) -> [UInt8] {
    let cdb: [UInt8] = [0x28, 0, 0, 0, 0x12, 0x34, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0]
    let pdu = InitiatorPDU.scsiCommand(SCSICommandPDU(
        read: true, write: false, lun: 0, initiatorTaskTag: itt, expectedDataTransferLength: 4096,
        cmdSN: itt, expStatSN: itt, cdb: cdb))
    return pdu.encodeBHS(dataSegmentLength: 0)
}

/// A WRITE(10) with 4 KiB of immediate data (RFC 7143 §11.3, ImmediateData=Yes), as wire bytes.
private func writeCommandPDU(itt: UInt32, digests: Bool) -> [UInt8] {
    let cdb: [UInt8] = [0x2a, 0, 0, 0, 0x12, 0x34, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0]
    let pdu = InitiatorPDU.scsiCommand(SCSICommandPDU(
        read: false, write: true, lun: 0, initiatorTaskTag: itt, expectedDataTransferLength: 4096,
        cmdSN: itt, expStatSN: itt, cdb: cdb))
    let data = (0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ Int(itt)) }
    return pdu.encode(data: data, headerDigest: digests, dataDigest: digests)
}

/// The final Data-In of a 4 KiB read with phase-collapsed status (RFC 7143 §11.7.4).
private func dataInWithStatus(itt: UInt32) -> TargetPDU {
    .dataIn(DataIn(final: true, statusPresent: true, status: 0, lun: 0, initiatorTaskTag: itt,
                   statSN: itt, expCmdSN: itt &+ 1, maxCmdSN: itt &+ 64, dataSN: 0, bufferOffset: 0))
}

/// A byte stream of `count` PDUs made by `make`, chopped into `chunk`-byte reads.
private func stream(count: Int, chunk: Int, _ make: (UInt32) -> [UInt8]) -> [[UInt8]] {
    var all: [UInt8] = []
    for i in 0..<count { all += make(UInt32(i)) }
    var chunks: [[UInt8]] = []
    var offset = 0
    while offset < all.count {
        let end = min(offset + chunk, all.count)
        chunks.append(Array(all[offset..<end]))
        offset = end
    }
    return chunks
}

private let fullFeatureLimits = FramerLimits(maxDataSegmentLength: 262_144)
private let digestLimits = FramerLimits(maxDataSegmentLength: 262_144, headerDigest: true, dataDigest: true)

private let initiatorName = "iqn.2004-10.com.ubuntu:01:abcdef"
private let targetName = "iqn.2001-04.com.example:storage.disk1"
/// open-iscsi 2.1's first login (usr/login.c with iscsid.conf defaults): security stage, then the
/// operational stage with every key it always sends.
private let openISCSISecurity = TextCodec.encode([
    (key: "InitiatorName", value: initiatorName), (key: "InitiatorAlias", value: "xen-dom0"),
    (key: "TargetName", value: targetName), (key: "SessionType", value: "Normal"), (key: "AuthMethod", value: "None"),
])
private let openISCSIOperational = TextCodec.encode([
    (key: "HeaderDigest", value: "None,CRC32C"), (key: "DataDigest", value: "None,CRC32C"),
    (key: "DefaultTime2Wait", value: "2"), (key: "DefaultTime2Retain", value: "0"), (key: "IFMarker", value: "No"),
    (key: "OFMarker", value: "No"), (key: "ErrorRecoveryLevel", value: "0"), (key: "InitialR2T", value: "No"),
    (key: "ImmediateData", value: "Yes"), (key: "MaxBurstLength", value: "16776192"),
    (key: "FirstBurstLength", value: "262144"), (key: "MaxOutstandingR2T", value: "1"),
    (key: "MaxConnections", value: "1"), (key: "DataPDUInOrder", value: "Yes"),
    (key: "DataSequenceInOrder", value: "Yes"), (key: "MaxRecvDataSegmentLength", value: "262144"),
])
private let loginEnvironment = LoginEnvironment(lookupTarget: { name, _ in
    name == targetName ? .found(TargetLoginInfo(name: targetName, alias: "Disk1")) : .notFound
}, commandWindow: 32)

private func loginRequest(csg: UInt8, nsg: UInt8) -> LoginRequest {
    LoginRequest(transit: true, currentStage: csg, nextStage: nsg, isid: 0x023d_0000_0001,
                 initiatorTaskTag: 0x11, cmdSN: 100)
}

/// Consumes a value so the optimiser keeps the work (Benchmark's blackHole, typed for clarity).
@inline(__always) private func use<T>(_ value: T) { blackHole(value) }

// MARK: - Benchmarks

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.throughput, .wallClock, .mallocCountTotal],
        warmupIterations: 10,
        scalingFactor: .kilo,
        maxDuration: .seconds(2),
        maxIterations: 1_000_000)

    // --- BHS codec ---------------------------------------------------------------------------
    let readBHS = readCommandBHS(itt: 7)
    Benchmark("BHS decode SCSI Command READ(10)") { benchmark in
        for _ in benchmark.scaledIterations {
            use(try? InitiatorPDU(bhs: readBHS))
        }
    }
    let dataIn = dataInWithStatus(itt: 7)
    Benchmark("BHS encode Data-In+status") { benchmark in
        for _ in benchmark.scaledIterations {
            use(dataIn.encodeBHS(dataSegmentLength: 4096))
        }
    }
    let headerOnly = TargetPDU.scsiResponse(SCSIResponsePDU(status: 0, initiatorTaskTag: 7, statSN: 7,
                                                            expCmdSN: 8, maxCmdSN: 40))
    Benchmark("BHS encode SCSI Response + header digest") { benchmark in
        for _ in benchmark.scaledIterations {
            use(PDUEncoder.headerBytes(bhs: headerOnly.encodeBHS(dataSegmentLength: 0),
                                       dataSegmentLength: 0, headerDigest: true))
        }
    }

    // --- Framer over a stream: one scaled iteration = one PDU ----------------------------------
    // 1,000 READ commands (48 bytes each) arriving in 16 KiB reads, as a QD32 read load would.
    let readStream = stream(count: 1000, chunk: 16_384) { readCommandBHS(itt: $0) }
    Benchmark("Framer READ commands (48 B PDUs, 16 KiB reads)",
              configuration: .init(scalingFactor: .one)) { benchmark in
        for _ in benchmark.scaledIterations {
            var framer = PDUFramer(limits: fullFeatureLimits)
            var pdus = 0
            for chunk in readStream {
                framer.append(chunk)
                while let pdu = try? framer.next() {
                    use(try? InitiatorPDU(bhs: pdu.bhs, ahs: pdu.ahs))
                    pdus += 1
                }
            }
            precondition(pdus == 1000)
        }
    }
    // 256 WRITE(10) with 4 KiB immediate data (about 1 MiB), arriving in 64 KiB reads.
    let writeStream = stream(count: 256, chunk: 65_536) { writeCommandPDU(itt: $0, digests: false) }
    Benchmark("Framer WRITE 4K immediate data (64 KiB reads)",
              configuration: .init(scalingFactor: .one)) { benchmark in
        for _ in benchmark.scaledIterations {
            var framer = PDUFramer(limits: fullFeatureLimits)
            var pdus = 0
            for chunk in writeStream {
                framer.append(chunk)
                while let pdu = try? framer.next() {
                    use(try? InitiatorPDU(bhs: pdu.bhs, ahs: pdu.ahs))
                    pdus += 1
                }
            }
            precondition(pdus == 256)
        }
    }
    let digestStream = stream(count: 256, chunk: 65_536) { writeCommandPDU(itt: $0, digests: true) }
    Benchmark("Framer WRITE 4K immediate data + CRC32C digests",
              configuration: .init(scalingFactor: .one)) { benchmark in
        for _ in benchmark.scaledIterations {
            var framer = PDUFramer(limits: digestLimits)
            var pdus = 0
            for chunk in digestStream {
                framer.append(chunk)
                while let pdu = try? framer.next() {
                    use(try? InitiatorPDU(bhs: pdu.bhs, ahs: pdu.ahs))
                    pdus += 1
                }
            }
            precondition(pdus == 256)
        }
    }

    // --- Negotiation -------------------------------------------------------------------------
    Benchmark("TextCodec decode open-iscsi operational keys") { benchmark in
        for _ in benchmark.scaledIterations {
            use(try? TextCodec.decode(openISCSIOperational))
        }
    }
    Benchmark("Login open-iscsi (security + operational stage)") { benchmark in
        for _ in benchmark.scaledIterations {
            var machine = LoginStateMachine(environment: loginEnvironment, initialStatSN: 0x1000)
            use(machine.receive(loginRequest(csg: 0, nsg: 1), data: openISCSISecurity))
            let last = machine.receive(loginRequest(csg: 1, nsg: 3), data: openISCSIOperational)
            if case .complete = last {} else { preconditionFailure("login did not complete: \(last)") }
            use(last)
        }
    }

    // --- CRC32C: one iteration = one buffer --------------------------------------------------
    for size in [4096, 65_536] {
        let buffer = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ 7) }
        let label = size == 4096 ? "4 KiB" : "64 KiB"
        Benchmark("CRC32C \(CRC32C.isHardwareAccelerated ? "hardware" : "table (no SSE4.2)") \(label)") { benchmark in
            for _ in benchmark.scaledIterations {
                use(buffer.withUnsafeBytes { CRC32C.checksum($0) })
            }
        }
        Benchmark("CRC32C portable slicing-by-8 \(label)") { benchmark in
            for _ in benchmark.scaledIterations {
                use(CRC32C.portableChecksum(buffer))
            }
        }
    }
}
