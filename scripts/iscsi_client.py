#!/usr/bin/env python3
"""A tiny raw-iSCSI initiator (RFC 7143) for the soak and durability scripts. Standard library only.

It logs in (straight to the operational stage, no authentication), issues READ(10)/WRITE(10) with
immediate data, unsolicited Data-Out and R2T-driven Data-Out, answers NOP-In pings, follows the
CmdSN window (MaxCmdSN) and logs out. Digests off, one connection per session, ERL 0.

Subcommands:
  soak        SESSIONS sessions at queue depth QD doing verified mixed reads and writes for SECONDS;
              every block carries a pattern keyed by (LBA, generation, session); RSS of --pid is
              sampled every --rss-interval seconds.
  idle        log in SESSIONS sessions and hold them; then a fresh session must still do I/O.
  dur-write   one session writes unique patterns to never-reused LBAs at queue depth QD and appends
              "lba blocks generation" to --log only after GOOD status; runs until the connection
              drops (the daemon is SIGKILLed) or --seconds pass.
  dur-verify  reads back every write in --log and compares; prints PASS/FAIL and "N passed, N failed".

Every wait is bounded (--timeout per command); only 127.0.0.1-style addresses given by the caller
are contacted.
"""
import argparse
import asyncio
import os
import random
import struct
import sys
import time

INITIATOR = "iqn.2026-11.org.example:raw-client"
SERIAL_HALF = 1 << 31


def sn_lt(a, b):
    """RFC 1982 serial number comparison (RFC 7143 §4.2.2.1): a < b."""
    return a != b and ((b - a) & 0xFFFFFFFF) < SERIAL_HALF


def sn_le(a, b):
    return a == b or sn_lt(a, b)


class ISCSIError(Exception):
    pass


class CheckCondition(ISCSIError):
    pass


def pad4(n):
    return (n + 3) & ~3


def encode_text(pairs):
    return b"".join(f"{k}={v}".encode() + b"\0" for k, v in pairs)


def decode_text(data):
    out = {}
    for item in data.split(b"\0"):
        if b"=" in item:
            k, v = item.split(b"=", 1)
            out[k.decode()] = v.decode()
    return out


def lun_bytes(lun):
    # SAM-2 single-level LUN: peripheral (lun < 256) or flat addressing (RFC 7143 §11.3.3 uses SAM).
    if lun < 256:
        return struct.pack(">HHI", lun, 0, 0)
    return struct.pack(">HHI", 0x4000 | (lun & 0x3FFF), 0, 0)


class Task:
    __slots__ = ("itt", "future", "read_buf", "write_data", "edtl", "status", "sense")

    def __init__(self, itt, edtl, write_data=None):
        self.itt = itt
        self.future = asyncio.get_running_loop().create_future()
        self.edtl = edtl
        self.read_buf = bytearray(edtl) if write_data is None else None
        self.write_data = write_data
        self.status = None
        self.sense = b""


class Session:
    """One iSCSI session on one TCP connection."""

    def __init__(self, host, port, target, lun, isid, timeout=30.0, initiator=INITIATOR):
        self.host, self.port, self.target, self.lun = host, port, target, lun
        self.isid = isid
        self.timeout = timeout
        self.initiator = initiator
        self.reader = self.writer = None
        self.cmdsn = 1
        self.exp_statsn = 0
        self.max_cmdsn = 1
        self.itt = 1
        self.tasks = {}
        self.window = None
        self.params = {}
        self.recv_task = None
        self.closed = False
        self.error = None
        self.block_size = 512
        self.blocks = 0

    # -- framing ---------------------------------------------------------------------------
    async def send_pdu(self, bhs, data=b""):
        self.writer.write(bhs + data + b"\0" * (pad4(len(data)) - len(data)))
        await self.writer.drain()

    async def recv_pdu(self):
        bhs = await self.reader.readexactly(48)
        ahs_len = bhs[4] * 4
        dsl = int.from_bytes(bhs[5:8], "big")
        if ahs_len:
            await self.reader.readexactly(ahs_len)
        data = await self.reader.readexactly(pad4(dsl)) if dsl else b""
        return bhs, data[:dsl]

    def next_itt(self):
        itt = self.itt
        self.itt = (self.itt + 1) & 0x7FFFFFFF or 1
        return itt

    def update_window(self, bhs):
        exp_cmdsn, max_cmdsn = struct.unpack(">II", bhs[28:36])
        # RFC 7143 §4.2.2.1: MaxCmdSN < ExpCmdSN - 1 means "ignore the window fields".
        if sn_lt(max_cmdsn, (exp_cmdsn - 1) & 0xFFFFFFFF):
            return
        if sn_lt(self.max_cmdsn, max_cmdsn):
            self.max_cmdsn = max_cmdsn
            if self.window is not None:
                self.window.set()

    def note_statsn(self, bhs):
        statsn = struct.unpack(">I", bhs[24:28])[0]
        nxt = (statsn + 1) & 0xFFFFFFFF
        if sn_lt(self.exp_statsn, nxt):
            self.exp_statsn = nxt

    # -- login / logout --------------------------------------------------------------------
    async def login(self):
        self.reader, self.writer = await asyncio.wait_for(
            asyncio.open_connection(self.host, self.port), self.timeout)
        keys = [
            ("InitiatorName", self.initiator), ("TargetName", self.target), ("SessionType", "Normal"),
            ("HeaderDigest", "None"), ("DataDigest", "None"), ("DefaultTime2Wait", "2"),
            ("DefaultTime2Retain", "0"), ("IFMarker", "No"), ("OFMarker", "No"),
            ("ErrorRecoveryLevel", "0"), ("InitialR2T", "No"), ("ImmediateData", "Yes"),
            ("MaxBurstLength", "262144"), ("FirstBurstLength", "262144"), ("MaxOutstandingR2T", "1"),
            ("MaxConnections", "1"), ("DataPDUInOrder", "Yes"), ("DataSequenceInOrder", "Yes"),
            ("MaxRecvDataSegmentLength", "262144"),
        ]
        itt = self.next_itt()
        data = encode_text(keys)
        for _ in range(8):   # bounded number of login round trips
            bhs = bytearray(48)
            bhs[0] = 0x43                    # Login Request, I bit (RFC 7143 §11.12)
            bhs[1] = 0x80 | (1 << 2) | 3     # T=1, CSG=1 (operational), NSG=3 (full feature)
            bhs[5:8] = len(data).to_bytes(3, "big")
            bhs[8:14] = self.isid.to_bytes(6, "big")
            struct.pack_into(">IHxxII", bhs, 16, itt, 0, self.cmdsn, self.exp_statsn)
            await self.send_pdu(bytes(bhs), data)
            rbhs, rdata = await asyncio.wait_for(self.recv_pdu(), self.timeout)
            if rbhs[0] & 0x3F != 0x23:
                raise ISCSIError(f"login: unexpected opcode 0x{rbhs[0]:02x}")
            if rbhs[36] != 0:
                raise ISCSIError(f"login failed: status class {rbhs[36]} detail {rbhs[37]}")
            self.params.update(decode_text(rdata))
            self.note_statsn(rbhs)
            self.exp_statsn = (struct.unpack(">I", rbhs[24:28])[0] + 1) & 0xFFFFFFFF
            exp_cmdsn, max_cmdsn = struct.unpack(">II", rbhs[28:36])
            self.cmdsn, self.max_cmdsn = exp_cmdsn, max_cmdsn
            if rbhs[1] & 0x80 and rbhs[1] & 0x03 == 3:
                break
            data = b""
        else:
            raise ISCSIError("login did not reach full feature phase")
        p = self.params
        self.immediate = p.get("ImmediateData", "Yes") == "Yes"
        self.initial_r2t = p.get("InitialR2T", "No") == "Yes"
        self.first_burst = min(262144, int(p.get("FirstBurstLength", "65536")))
        self.max_xmit = int(p.get("MaxRecvDataSegmentLength", "8192"))
        self.window = asyncio.Event()
        self.recv_task = asyncio.create_task(self.receiver())

    async def logout(self):
        if self.closed:
            return
        try:
            bhs = bytearray(48)
            bhs[0] = 0x46   # Logout Request, I bit (RFC 7143 §11.14)
            bhs[1] = 0x80   # reason 0: close the session
            itt = self.next_itt()
            task = Task(itt, 0, write_data=b"")
            self.tasks[itt] = task
            struct.pack_into(">IHxxII", bhs, 16, itt, 0, self.cmdsn, self.exp_statsn)
            await self.send_pdu(bytes(bhs))
            await asyncio.wait_for(task.future, self.timeout)
        except (ISCSIError, OSError, asyncio.TimeoutError, asyncio.IncompleteReadError):
            pass
        finally:
            await self.close()

    async def close(self):
        self.closed = True
        if self.recv_task:
            self.recv_task.cancel()
            try:
                await self.recv_task
            except (asyncio.CancelledError, Exception):
                pass
        if self.writer:
            self.writer.close()
            try:
                await asyncio.wait_for(self.writer.wait_closed(), 5)
            except Exception:
                pass

    # -- receive loop ----------------------------------------------------------------------
    def fail_all(self, err):
        self.error = self.error or err
        self.closed = True
        for t in list(self.tasks.values()):
            if not t.future.done():
                t.future.set_exception(err)
        self.tasks.clear()
        if self.window:
            self.window.set()

    async def receiver(self):
        try:
            while True:
                bhs, data = await self.recv_pdu()
                op = bhs[0] & 0x3F
                itt = struct.unpack(">I", bhs[16:20])[0]
                if op in (0x21, 0x25, 0x31, 0x20, 0x26, 0x3F, 0x32):
                    self.update_window(bhs)
                if op == 0x25:    # Data-In (RFC 7143 §11.7)
                    task = self.tasks.get(itt)
                    if task is None or task.read_buf is None:
                        raise ISCSIError(f"Data-In for unknown task 0x{itt:x}")
                    off = struct.unpack(">I", bhs[40:44])[0]
                    if off + len(data) > task.edtl:
                        raise ISCSIError("Data-In beyond the expected transfer length")
                    task.read_buf[off:off + len(data)] = data
                    if bhs[1] & 0x01:   # S bit: status rides in the final Data-In
                        self.note_statsn(bhs)
                        task.status = bhs[3]
                        self.finish(task)
                elif op == 0x21:  # SCSI Response (RFC 7143 §11.4)
                    self.note_statsn(bhs)
                    task = self.tasks.get(itt)
                    if task is None:
                        raise ISCSIError(f"SCSI Response for unknown task 0x{itt:x}")
                    if bhs[2] != 0:
                        task.status = 0x100 | bhs[2]
                    else:
                        task.status = bhs[3]
                    if len(data) >= 2:
                        n = struct.unpack(">H", data[:2])[0]
                        task.sense = bytes(data[2:2 + n])
                    self.finish(task)
                elif op == 0x31:  # R2T (RFC 7143 §11.8)
                    task = self.tasks.get(itt)
                    if task is None or task.write_data is None:
                        raise ISCSIError(f"R2T for unknown task 0x{itt:x}")
                    ttt, _statsn, _e, _m, _r2tsn, off, length = struct.unpack(">IIIIIII", bhs[20:48])
                    await self.send_data_out(task, ttt, off, length)
                elif op == 0x20:  # NOP-In: answer a ping (RFC 7143 §11.19)
                    ttt = struct.unpack(">I", bhs[20:24])[0]
                    if ttt != 0xFFFFFFFF:
                        out = bytearray(48)
                        out[0] = 0x40   # NOP-Out, I bit
                        out[1] = 0x80
                        out[8:16] = bhs[8:16]
                        struct.pack_into(">IIII", out, 16, 0xFFFFFFFF, ttt, self.cmdsn, self.exp_statsn)
                        await self.send_pdu(bytes(out))
                elif op == 0x26:  # Logout Response
                    self.note_statsn(bhs)
                    task = self.tasks.pop(itt, None)
                    if task and not task.future.done():
                        task.future.set_result(None)
                    return
                elif op == 0x32:  # Async Message: nothing to do for this client
                    pass
                elif op == 0x3F:
                    raise ISCSIError(f"Reject reason 0x{bhs[2]:02x}")
                else:
                    raise ISCSIError(f"unexpected opcode 0x{op:02x}")
        except asyncio.CancelledError:
            raise
        except (asyncio.IncompleteReadError, ConnectionError, OSError) as e:
            self.fail_all(ISCSIError(f"connection lost: {e.__class__.__name__}"))
        except ISCSIError as e:
            self.fail_all(e)

    def finish(self, task):
        self.tasks.pop(task.itt, None)
        if not task.future.done():
            task.future.set_result(task)

    async def send_data_out(self, task, ttt, offset, length):
        end = min(offset + length, len(task.write_data))
        datasn = 0
        while offset < end:
            n = min(self.max_xmit, end - offset)
            bhs = bytearray(48)
            bhs[0] = 0x05
            bhs[1] = 0x80 if offset + n >= end else 0
            bhs[5:8] = n.to_bytes(3, "big")
            bhs[8:16] = lun_bytes(self.lun)
            struct.pack_into(">IIxxxxIxxxxII", bhs, 16, task.itt, ttt, self.exp_statsn, datasn, offset)
            await self.send_pdu(bytes(bhs), task.write_data[offset:offset + n])
            offset += n
            datasn += 1

    # -- commands --------------------------------------------------------------------------
    async def command(self, cdb, read_len=0, write_data=None):
        if self.closed:
            raise self.error or ISCSIError("session closed")
        deadline = time.monotonic() + self.timeout
        while sn_lt(self.max_cmdsn, self.cmdsn):   # RFC 7143 §4.2.2.1: stay inside the window
            self.window.clear()
            left = deadline - time.monotonic()
            if left <= 0:
                raise ISCSIError("CmdSN window stayed closed")
            await asyncio.wait_for(self.window.wait(), left)
            if self.closed:
                raise self.error or ISCSIError("session closed")
        itt = self.next_itt()
        edtl = read_len if write_data is None else len(write_data)
        task = Task(itt, edtl, write_data)
        self.tasks[itt] = task
        immediate = b""
        if write_data is not None and self.immediate:
            immediate = write_data[:min(self.first_burst, self.max_xmit, len(write_data))]
        bhs = bytearray(48)
        bhs[0] = 0x01
        final = True
        if write_data is not None and not self.initial_r2t and len(immediate) < min(self.first_burst, len(write_data)):
            final = False   # unsolicited Data-Out PDUs follow
        bhs[1] = (0x80 if final else 0) | (0x40 if write_data is None and read_len else 0) \
            | (0x20 if write_data is not None else 0) | 0x01
        bhs[5:8] = len(immediate).to_bytes(3, "big")
        bhs[8:16] = lun_bytes(self.lun)
        struct.pack_into(">IIII", bhs, 16, itt, edtl, self.cmdsn, self.exp_statsn)
        bhs[32:32 + len(cdb)] = cdb
        self.cmdsn = (self.cmdsn + 1) & 0xFFFFFFFF
        await self.send_pdu(bytes(bhs), immediate)
        if not final:
            unsolicited_end = min(self.first_burst, len(write_data))
            await self.send_data_out(task, 0xFFFFFFFF, len(immediate), unsolicited_end - len(immediate))
        try:
            await asyncio.wait_for(task.future, self.timeout)
        except asyncio.TimeoutError:
            raise ISCSIError(f"command 0x{cdb[0]:02x} timed out after {self.timeout}s")
        if task.status != 0:
            raise CheckCondition(f"command 0x{cdb[0]:02x} status 0x{task.status:x} sense {task.sense.hex()}")
        return task

    async def read_capacity(self):
        for _ in range(3):   # a unit attention after login is allowed once or twice
            try:
                t = await self.command(bytes([0x25] + [0] * 9), read_len=8)
                last, bs = struct.unpack(">II", t.read_buf[:8])
                self.block_size, self.blocks = bs, last + 1
                return
            except CheckCondition:
                continue
        raise ISCSIError("READ CAPACITY(10) failed")

    async def read(self, lba, nblocks):
        cdb = struct.pack(">BBIBHB", 0x28, 0, lba, 0, nblocks, 0)
        t = await self.command(cdb, read_len=nblocks * self.block_size)
        return bytes(t.read_buf)

    async def write(self, lba, data):
        nblocks = len(data) // self.block_size
        cdb = struct.pack(">BBIBHB", 0x2A, 0, lba, 0, nblocks, 0)
        await self.command(cdb, write_data=data)

    async def test_unit_ready(self):
        await self.command(bytes(6))


def pattern(lba, nblocks, block_size, gen, sid):
    """Blocks keyed by (LBA, generation, session): generation 0 is the zero-filled initial state."""
    if gen == 0:
        return bytes(nblocks * block_size)
    reps = block_size // 16
    return b"".join(struct.pack(">QII", lba + i, gen, sid) * reps for i in range(nblocks))


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def isid_for(n):
    # RFC 7143 §11.12.5: type 0x80 (random) ISID; distinct per session.
    return (0x80 << 40) | (0x3D << 32) | (n & 0xFFFFFFFF)


# ---------------------------------------------------------------------------------------------
async def soak(a):
    sessions = []
    for i in range(a.sessions):
        s = Session(a.host, a.port, a.target, a.lun, isid_for(i + 1), a.timeout)
        await s.login()
        sessions.append(s)
    await sessions[0].read_capacity()
    bs, total = sessions[0].block_size, sessions[0].blocks
    chunk = max(1, 4096 // bs)                          # 4 KiB units
    region_chunks = total // chunk // a.sessions
    if region_chunks < 64:
        raise SystemExit(f"LUN too small: {total} blocks for {a.sessions} sessions")
    for s in sessions[1:]:
        s.block_size, s.blocks = bs, total
    print(f"soak: {a.sessions} sessions x QD{a.qd}, {region_chunks} x 4 KiB per session, "
          f"block size {bs}, {a.seconds}s", flush=True)
    stats = {"reads": 0, "writes": 0, "bytes": 0, "errors": 0, "mismatches": 0}
    first_errors = []
    stop_at = time.monotonic() + a.seconds
    rng = random.Random(a.seed)

    async def worker(sid, s, gens, busy):
        while time.monotonic() < stop_at and not s.closed:
            n = rng.randint(1, 8)                           # 4..32 KiB
            for _ in range(16):
                start = rng.randrange(0, region_chunks - n)
                if not any(c in busy for c in range(start, start + n)):
                    break
            else:
                await asyncio.sleep(0.001)
                continue
            busy.update(range(start, start + n))
            base = sid * region_chunks + start
            lba = base * chunk
            try:
                if rng.random() < 0.5:
                    gen = max(gens.get(c, 0) for c in range(start, start + n)) + 1
                    await s.write(lba, pattern(lba, n * chunk, bs, gen, sid + 1))
                    for c in range(start, start + n):
                        gens[c] = gen
                    stats["writes"] += 1
                else:
                    data = await s.read(lba, n * chunk)
                    expect = b"".join(pattern((base + k) * chunk, chunk, bs, gens.get(start + k, 0), sid + 1)
                                      for k in range(n))
                    if data != expect:
                        stats["mismatches"] += 1
                        if len(first_errors) < 5:
                            first_errors.append(f"session {sid} LBA {lba}+{n * chunk}: data mismatch")
                    stats["reads"] += 1
                stats["bytes"] += n * chunk * bs
            except ISCSIError as e:
                stats["errors"] += 1
                if len(first_errors) < 5:
                    first_errors.append(f"session {sid}: {e}")
                if s.closed:
                    return
            finally:
                busy.difference_update(range(start, start + n))

    samples = []

    async def sampler():
        t0 = time.monotonic()
        while True:
            samples.append((round(time.monotonic() - t0), rss_kib(a.pid) if a.pid else 0,
                            stats["reads"] + stats["writes"]))
            print(f"soak: t={samples[-1][0]}s RSS {samples[-1][1]} KiB ops {samples[-1][2]} "
                  f"errors {stats['errors'] + stats['mismatches']}", flush=True)
            await asyncio.sleep(a.rss_interval)

    sample_task = asyncio.create_task(sampler())
    t0 = time.monotonic()
    workers = []
    for sid, s in enumerate(sessions):
        gens, busy = {}, set()
        workers += [asyncio.create_task(worker(sid, s, gens, busy)) for _ in range(a.qd)]
    await asyncio.gather(*workers)
    elapsed = time.monotonic() - t0
    sample_task.cancel()
    samples.append((round(elapsed), rss_kib(a.pid) if a.pid else 0, stats["reads"] + stats["writes"]))
    for s in sessions:
        await s.logout()
    ops = stats["reads"] + stats["writes"]
    print(f"soak: {ops} ops ({stats['reads']} reads, {stats['writes']} writes), "
          f"{stats['bytes'] / 2**20:.0f} MiB in {elapsed:.0f}s = {ops / elapsed:.0f} IOPS, "
          f"{stats['errors']} errors, {stats['mismatches']} mismatches", flush=True)
    for e in first_errors:
        print(f"soak: first error: {e}", flush=True)
    ok = stats["errors"] == 0 and stats["mismatches"] == 0 and ops > 0
    # RSS stability: the first sample at or after the warm-up is the baseline; the last sample may
    # exceed it by at most 10 % + 4 MiB, and the least-squares slope over the post-warm-up samples
    # is reported (KiB per minute).
    rss_ok = True
    if a.pid:
        post = [(t, r) for t, r, _ in samples if t >= a.warmup] or samples[-1:]
        base, last = post[0][1], samples[-1][1]
        bound = base * 1.10 + 4096
        slope = 0.0
        if len(post) >= 2:
            mt = sum(t for t, _ in post) / len(post)
            mr = sum(r for _, r in post) / len(post)
            den = sum((t - mt) ** 2 for t, _ in post)
            slope = sum((t - mt) * (r - mr) for t, r in post) / den * 60 if den else 0.0
        rss_ok = last <= bound
        print(f"soak: RSS baseline {base} KiB (t>={a.warmup}s), last {last} KiB, max "
              f"{max(r for _, r, _ in samples)} KiB, bound {bound:.0f} KiB, slope {slope:.0f} KiB/min: "
              f"{'stable' if rss_ok else 'GROWING'}", flush=True)
    print(f"{'PASS' if ok else 'FAIL'} soak-verified-io", flush=True)
    if a.pid:
        print(f"{'PASS' if rss_ok else 'FAIL'} soak-rss-stable", flush=True)
    return 0 if ok and rss_ok else 1


async def idle(a):
    sessions = []
    rss0 = rss_kib(a.pid) if a.pid else 0
    t0 = time.monotonic()
    failures = 0
    batch = 50
    for start in range(0, a.sessions, batch):
        group = [Session(a.host, a.port, a.target, a.lun, isid_for(10000 + i), a.timeout)
                 for i in range(start, min(start + batch, a.sessions))]
        results = await asyncio.gather(*(s.login() for s in group), return_exceptions=True)
        for s, r in zip(group, results):
            if isinstance(r, Exception):
                failures += 1
                if failures <= 3:
                    print(f"idle: login failed: {r!r}", flush=True)
                await s.close()
            else:
                sessions.append(s)
    login_s = time.monotonic() - t0
    await asyncio.sleep(a.hold)
    alive = sum(1 for s in sessions if not s.closed)
    rss1 = rss_kib(a.pid) if a.pid else 0
    print(f"idle: {len(sessions)} sessions logged in in {login_s:.1f}s ({failures} failed), "
          f"{alive} still up after {a.hold}s; RSS {rss0} KiB before, {rss1} KiB with them "
          f"({(rss1 - rss0) / max(1, len(sessions)):.1f} KiB per session)", flush=True)
    fresh_ok = False
    fresh = Session(a.host, a.port, a.target, a.lun, isid_for(999999), a.timeout)
    try:
        await fresh.login()
        await fresh.read_capacity()
        data = await fresh.read(0, 8)
        fresh_ok = len(data) == 8 * fresh.block_size
        await fresh.logout()
    except (ISCSIError, OSError, asyncio.TimeoutError) as e:
        print(f"idle: fresh client failed: {e!r}", flush=True)
    print(f"{'PASS' if failures == 0 and alive == a.sessions else 'FAIL'} idle-{a.sessions}-sessions", flush=True)
    print(f"{'PASS' if fresh_ok else 'FAIL'} idle-fresh-client-io", flush=True)
    t1 = time.monotonic()
    for start in range(0, len(sessions), 100):
        await asyncio.gather(*(s.logout() for s in sessions[start:start + 100]))
    print(f"idle: logged out in {time.monotonic() - t1:.1f}s", flush=True)
    return 0 if failures == 0 and alive == a.sessions and fresh_ok else 1


async def dur_write(a):
    s = Session(a.host, a.port, a.target, a.lun, isid_for(424242), a.timeout)
    await s.login()
    await s.read_capacity()
    bs = s.block_size
    chunk = max(1, 4096 // bs)
    total_chunks = s.blocks // chunk
    next_chunk = 0
    gen_base = int(time.time()) & 0xFFFF
    acked = 0
    stop_at = time.monotonic() + a.seconds
    rng = random.Random(a.seed)
    log = open(a.log, "a", buffering=1)
    lost = None

    async def writer(wid):
        nonlocal next_chunk, acked, lost
        while time.monotonic() < stop_at and lost is None:
            n = rng.randint(1, 8)
            if next_chunk + n > total_chunks:
                return
            start = next_chunk          # never reused: an unacknowledged write touches no logged LBA
            next_chunk += n
            lba = start * chunk
            gen = (gen_base << 16) | (start & 0xFFFF)
            data = pattern(lba, n * chunk, bs, gen, 0xD0D0)
            try:
                await s.write(lba, data)
            except ISCSIError as e:
                lost = lost or str(e)
                return
            # Logged only after GOOD status.
            log.write(f"{lba} {n * chunk} {gen}\n")
            acked += 1

    await asyncio.gather(*(writer(i) for i in range(a.qd)))
    log.close()
    print(f"dur-write: {acked} writes acknowledged; stream ended: {lost or 'time/space limit'}", flush=True)
    if lost is None:
        await s.logout()
    else:
        await s.close()
    return 0


async def dur_verify(a):
    s = Session(a.host, a.port, a.target, a.lun, isid_for(434343), a.timeout)
    await s.login()
    await s.read_capacity()
    passed = failed = 0
    with open(a.log) as f:
        entries = [tuple(map(int, line.split())) for line in f if line.strip()]
    for lba, nblocks, gen in entries:
        try:
            data = await s.read(lba, nblocks)
            ok = data == pattern(lba, nblocks, s.block_size, gen, 0xD0D0)
        except ISCSIError as e:
            print(f"dur-verify: read LBA {lba}: {e}", flush=True)
            ok = False
        if ok:
            passed += 1
        else:
            failed += 1
            if failed <= 5:
                print(f"dur-verify: LBA {lba}+{nblocks} gen {gen:#x} does not read back", flush=True)
    await s.logout()
    print(f"dur-verify: {len(entries)} acknowledged writes checked", flush=True)
    return passed, failed


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("command", choices=["soak", "idle", "dur-write", "dur-verify"])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--target", required=True)
    p.add_argument("--lun", type=int, default=0)
    p.add_argument("--sessions", type=int, default=64)
    p.add_argument("--qd", type=int, default=8)
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--pid", type=int, default=0, help="target PID whose RSS is sampled")
    p.add_argument("--rss-interval", type=float, default=10)
    p.add_argument("--warmup", type=float, default=20)
    p.add_argument("--hold", type=float, default=10)
    p.add_argument("--timeout", type=float, default=30)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--log")
    a = p.parse_args()
    if a.command == "soak":
        return asyncio.run(soak(a))
    if a.command == "idle":
        return asyncio.run(idle(a))
    if a.command == "dur-write":
        return asyncio.run(dur_write(a))
    passed, failed = asyncio.run(dur_verify(a))
    print(f"{passed} passed, {failed} failed", flush=True)
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
