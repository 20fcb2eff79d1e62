#!/usr/bin/env python3
"""Writes the seed corpora Fuzz/corpus/<target>/ from fixtures (deterministic; rerun after format changes).

Seeds follow each fuzz entry's input layout (see the header comment of Fuzz/Targets/fuzz-<target>.swift).
"""
import os, re, struct, pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "Fuzz" / "corpus"


def write(target, name, data):
    d = OUT / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(bytes(data))


def keys(pairs):
    return b"".join(f"{k}={v}".encode() + b"\0" for k, v in pairs)


def pad(b):
    return b + b"\0" * (-len(b) % 4)


def bhs(opcode, flags, dsl, rest=b"", immediate=False, ahs_len=0):
    b = bytearray(48)
    b[0] = opcode | (0x40 if immediate else 0)
    b[1] = flags
    b[4] = ahs_len // 4
    b[5:8] = dsl.to_bytes(3, "big")
    b[8:8 + len(rest)] = rest
    return bytes(b)


def login_pdu(t, c, csg, nsg, data, itt=1, isid=0x023d00000001, tsih=0, cmdsn=1):
    flags = (0x80 if t else 0) | (0x40 if c else 0) | (csg << 2) | nsg
    rest = isid.to_bytes(6, "big") + tsih.to_bytes(2, "big") + itt.to_bytes(4, "big") + b"\0\0\0\0" \
        + cmdsn.to_bytes(4, "big") + b"\0\0\0\0"
    return bhs(0x03, flags, len(data), rest, immediate=True) + pad(data)


def scsi_pdu(cdb, edtl, read=False, write=False, data=b"", itt=0x10, cmdsn=1, final=True, ahs=b""):
    flags = (0x80 if final else 0) | (0x40 if read else 0) | (0x20 if write else 0) | 1
    cdb16 = (cdb[:16] + b"\0" * 16)[:16]
    rest = b"\0" * 8 + itt.to_bytes(4, "big") + edtl.to_bytes(4, "big") + cmdsn.to_bytes(4, "big") + b"\0\0\0\0" + cdb16
    return bhs(0x01, flags, len(data), rest, ahs_len=len(ahs)) + ahs + pad(data)


def data_out(itt, ttt, offset, data, final=True, datasn=0):
    rest = b"\0" * 8 + itt.to_bytes(4, "big") + ttt.to_bytes(4, "big") + b"\0" * 4 + b"\0" * 4 + b"\0" * 4 \
        + datasn.to_bytes(4, "big") + offset.to_bytes(4, "big")
    return bhs(0x05, 0x80 if final else 0, len(data), rest) + pad(data)


SEC = [("InitiatorName", "iqn.2004-10.com.ubuntu:01:abcdef"), ("InitiatorAlias", "xen-dom0"),
       ("TargetName", "iqn.2001-04.com.example:storage.disk1"), ("SessionType", "Normal"), ("AuthMethod", "None")]
OP = [("HeaderDigest", "None"), ("DataDigest", "None"), ("DefaultTime2Wait", "2"), ("DefaultTime2Retain", "0"),
      ("IFMarker", "No"), ("OFMarker", "No"), ("ErrorRecoveryLevel", "0"), ("InitialR2T", "No"),
      ("ImmediateData", "Yes"), ("MaxBurstLength", "16776192"), ("FirstBurstLength", "262144"),
      ("MaxOutstandingR2T", "1"), ("MaxConnections", "1"), ("DataPDUInOrder", "Yes"),
      ("DataSequenceInOrder", "Yes"), ("MaxRecvDataSegmentLength", "262144")]

# --- pdu: [mode][chunk-1] stream
read10 = bytes([0x28, 0, 0, 0, 0, 0x10, 0, 0, 8, 0])
write10 = bytes([0x2a, 0, 0, 0, 0, 0x10, 0, 0, 1, 0])
stream = login_pdu(True, False, 0, 1, keys(SEC)) + login_pdu(True, False, 1, 3, keys(OP)) \
    + scsi_pdu(read10, 4096, read=True) + scsi_pdu(write10, 512, write=True, data=b"\xab" * 256, final=False) \
    + data_out(0x10, 0xffffffff, 256, b"\xcd" * 256) \
    + bhs(0x00, 0x80, 4, b"\0" * 8 + (7).to_bytes(4, "big") + b"\xff" * 4, immediate=True) + b"ping" \
    + bhs(0x04, 0x80, len(keys([("SendTargets", "All")])), b"\0" * 8 + (8).to_bytes(4, "big") + b"\xff" * 4) + pad(keys([("SendTargets", "All")])) \
    + bhs(0x06, 0x80, 0, b"\0" * 8 + (9).to_bytes(4, "big")) \
    + bhs(0x02, 0x81, 0, b"\0" * 8 + (10).to_bytes(4, "big") + (0x10).to_bytes(4, "big")) \
    + bhs(0x10, 0x80, 0, b"\0" * 8 + (11).to_bytes(4, "big"))
for mode in (0, 4, 8, 12):
    write("pdu", f"stream-mode{mode}", bytes([mode, 255]) + stream)
write("pdu", "stream-trickle", bytes([4, 0]) + stream[:200])
ext_cdb = bytes([0x7f] + [0] * 31)
ahs = (len(ext_cdb) - 16 + 1).to_bytes(2, "big") + b"\x01\0" + ext_cdb[16:]
ahs = pad(ahs)
write("pdu", "extended-cdb", bytes([4, 255]) + scsi_pdu(ext_cdb, 0, ahs=ahs))
bidi = pad((5).to_bytes(2, "big") + b"\x02\0" + b"\0" + (4096).to_bytes(4, "big"))
write("pdu", "bidi-ahs", bytes([4, 255]) + scsi_pdu(read10, 4096, read=True, write=True, ahs=bidi))
# With digests: a valid CRC is hard to find by mutation, so include framed examples.
def crc32c(data):
    crc = 0xffffffff
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xffffffff
h = scsi_pdu(write10, 512, write=True, data=b"\x11" * 8)
header, body = h[:48], h[48:]
framed = header + struct.pack("<I", crc32c(header)) + body + struct.pack("<I", crc32c(body))
write("pdu", "digests", bytes([3 | 4, 255]) + framed)

# --- login: [scenario] then steps [flags][tweak][len hi][len lo][data]
def step(t, c, csg, nsg, data, tweak=0):
    flags = (0x80 if t else 0) | (0x40 if c else 0) | (csg << 2) | nsg
    return bytes([flags, tweak]) + len(data).to_bytes(2, "big") + data


def text_step(final, cont, data, ttt=0xff):
    return bytes([0x10 | (0x80 if final else 0) | (0x40 if cont else 0), ttt]) + len(data).to_bytes(2, "big") + data


write("login", "open-iscsi", b"\0" + step(True, False, 0, 1, keys(SEC)) + step(True, False, 1, 3, keys(OP)))
sec_op = keys(SEC + OP)
write("login", "straight-to-ffp", b"\0" + step(True, False, 0, 3, sec_op))
half = len(sec_op) // 2
write("login", "continued-split-key", b"\0" + step(False, True, 0, 0, sec_op[:half]) + step(True, False, 0, 3, sec_op[half:]))
write("login", "discovery-sendtargets",
      b"\0" + step(True, False, 0, 3, keys([("InitiatorName", "iqn.x:y"), ("SessionType", "Discovery"), ("AuthMethod", "None"),
                                             ("MaxRecvDataSegmentLength", "512")]))
      + text_step(True, False, keys([("SendTargets", "All")])) + text_step(True, False, b"") + text_step(True, False, b""))
chap_sec = [("InitiatorName", "iqn.x:y"), ("TargetName", "iqn.2001-04.com.example:storage.chap"), ("SessionType", "Normal"),
            ("AuthMethod", "CHAP,None")]
write("login", "chap", b"\x03" + step(False, False, 0, 1, keys(chap_sec)) + step(False, False, 0, 1, keys([("CHAP_A", "5")]))
      + step(True, False, 0, 1, keys([("CHAP_N", "user"), ("CHAP_R", "0x" + "00" * 16), ("CHAP_I", "1"), ("CHAP_C", "0x" + "ab" * 16)]))
      + step(True, False, 1, 3, keys(OP)))
write("login", "long-values", b"\0" + step(True, False, 0, 1, keys(SEC + [("X-com.example.big", "v" * 255)])))
write("login", "bad-stage", b"\0" + step(True, True, 2, 1, keys(SEC)) + step(True, False, 1, 0, b""))
write("login", "many-keys", b"\0" + step(False, True, 0, 0, keys([(f"X-k{i}", "1") for i in range(400)])[:8192]))

# --- cdb: [shape][sense] cdb
cdbs = {
    "tur": [0] * 6, "inquiry": [0x12, 0, 0, 0, 96, 0], "inquiry-vpd83": [0x12, 1, 0x83, 0, 255, 0],
    "inquiry-vpdb0": [0x12, 1, 0xb0, 0, 64, 0], "inquiry-vpdb2": [0x12, 1, 0xb2, 0, 64, 0],
    "read6": [0x08, 0, 0, 1, 0, 0], "read10": list(read10), "read16": [0x88, 8] + [0] * 7 + [1] + [0, 0, 0, 8, 0, 0],
    "write16": [0x8a, 8] + [0xff] * 8 + [0, 0, 0, 1, 0, 0], "writesame16": [0x93, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0, 0],
    "unmap": [0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0], "caw": [0x89, 0] + [0] * 8 + [0, 0, 0, 1, 0, 0],
    "rc16": [0x9e, 0x10] + [0] * 10 + [0, 0, 32, 0], "getlbastatus": [0x9e, 0x12] + [0] * 10 + [0, 0, 32, 0],
    "modesense6": [0x1a, 0, 0x3f, 0, 255, 0], "modesense10": [0x5a, 8, 0x3f, 0xff, 0, 0, 0, 0xff, 0xff, 0],
    "reportluns": [0xa0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0], "rsoc": [0xa3, 0x0c, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0],
    "rsoc-one": [0xa3, 0x0c, 1, 0x28, 0, 0, 0, 0, 0xff, 0xff, 0, 0], "requestsense": [0x03, 1, 0, 0, 252, 0],
    "sync16": [0x91, 0] + [0] * 12 + [0, 0], "verify16": [0x8f, 2] + [0] * 8 + [0, 0, 0, 8, 0, 0],
    "prin": [0x5e, 0, 0, 0, 0, 0, 0, 0x10, 0, 0], "prout": [0x5f, 0, 0, 0, 0, 0, 0, 0, 24, 0],
    "defect12": [0xb7, 0x18, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0], "prefetch16": [0x90, 0] + [0] * 12 + [0, 0],
    "orwrite": [0x8b, 0] + [0] * 8 + [0, 0, 0, 1, 0, 0], "reserve6": [0x16, 0, 0, 0, 0, 0],
}
for name, c in cdbs.items():
    for shape in (0, 0x19, 0x2b):
        write("cdb", f"{name}-{shape:02x}", bytes([shape, shape & 3]) + bytes(c))

# --- config: [kind] text
for path in sorted((ROOT / "Configs").glob("*.conf")):
    write("config", path.name, b"\0" + path.read_bytes())
write("config", "initiators.allow", b"\x02" + (ROOT / "Configs" / "initiators.allow").read_bytes())
write("config", "targets.allow", b"\x03" + (ROOT / "Configs" / "targets.allow").read_bytes())
write("config", "deny", b"\x04" + b"ALL ALL\niqn.x 192.168.0.0/16, [fe80::1]/64\n")
write("config", "quirks", b"\0" + b"""# IET quirks
IncomingUser joe secretsecret
OutgoingUser jack 12charsecret
Target iqn.2001-04.com.example:storage.disk2.sys1.xyz
\tIncomingUser joe2 secret12345678
\tLun 0 Path=/dev/null,Type=fileio,ScsiId=xyz,ScsiSN=xyz,IOMode=wb,BlockSize=4096
\tLun 1 Blocks=1000,BlockSize=512,Type=nullio
\tAlias Test
\tMaxConnections 1
\tMaxSessions 0
\tInitialR2T No
\tImmediateData Yes
\tMaxRecvDataSegmentLength 262144
\tMaxBurstLength 1048576
\tFirstBurstLength 65536
\tHeaderDigest CRC32C,None
\tQueuedCommands 32
\tNOPInterval 5
\tWthreads 8
Target iqn.2001-04.com.example:other
\tLun 0 Path=/tmp/x\\,y,Type=blockio
""")
print("seeds written to", OUT)
