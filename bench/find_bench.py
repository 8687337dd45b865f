#!/usr/bin/env python3
"""mirrortap-find against tcpdump -r over every file: one flow's packets out of a
simulated fleet (bench/README.md, "mirrortap-find").

  bench/find_bench.py BINDIR [--gb 5] [--collectors 4] [--dir DIR] [--keep]

Writes a fleet of pcaps as collectors would (DIR/collector-N/<session>/
<session>-<UTC start>-<seq>.pcap, 256 MiB files, nanosecond pcap) with the flow
index beside each (tests/find/flow_index.py's format, built as the records are
written), the two directions of every flow on different collectors. Traffic is
short connections: 100 open at a time, 300 packets each (60-1400 byte frames),
so a flow covers a small stretch of each file, as connections do in a file of
minutes. Then it times, for one flow in the middle of the run:
  find     mirrortap-find --from DIR/collector-0 ... 'host A and tcp port P' -w out
  tcpdump  tcpdump -r F -w out_F 'host A and tcp port P' for every file F, one after another
and reports wall time, bytes read (find's own count; every byte for tcpdump) and
checks both found the same number of packets. The files stay in the page cache
(written just before): both sides read warm. Exit status 1 when the counts differ."""
import gzip
import json
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile
import time

ROTATE = 256 << 20
SESSIONS = ("web", "db")
ACTIVE, PACKETS_PER_FLOW = 100, 300


def args():
    a = sys.argv[1:]
    if not a or a[0].startswith("-"):
        sys.exit(__doc__)
    opt = {"bindir": a[0], "gb": 5.0, "collectors": 4, "dir": None, "keep": False}
    i = 1
    while i < len(a):
        if a[i] == "--keep":
            opt["keep"] = True
            i += 1
            continue
        key = a[i].lstrip("-")
        opt[key] = type(opt[key])(a[i + 1]) if opt[key] is not None else a[i + 1]
        i += 2
    return opt


class File:
    def __init__(self, path, session, collector):
        self.path, self.session, self.collector = path, session, collector
        self.f = open(path + ".part", "wb")
        self.f.write(struct.pack("<IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, 262144, 1))
        self.size, self.packets, self.first, self.last = 24, 0, None, None
        self.flows = {}
        self.pending = []

    def add(self, ts, frame, key):
        rec = struct.pack("<IIII", ts // 1_000_000_000, ts % 1_000_000_000, len(frame), len(frame)) + frame
        fl = self.flows.get(key)
        if fl is None:
            fl = self.flows[key] = [ts, ts, 0, 0, self.size, 0]
        fl[1] = ts
        fl[2] += 1
        fl[3] += len(frame)
        fl[5] = self.size + len(rec)
        self.size += len(rec)
        self.packets += 1
        self.first = ts if self.first is None else self.first
        self.last = ts
        self.pending.append(rec)
        if len(self.pending) >= 4096:
            self.f.write(b"".join(self.pending))
            self.pending = []

    def finish(self):
        self.f.write(b"".join(self.pending))
        self.f.close()
        with gzip.open(self.path + ".flows.json.gz", "wt", compresslevel=1) as g:
            for (src, dst, sport, dport), (first, last, packets, nbytes, off, end) in self.flows.items():
                g.write(json.dumps({
                    "session": self.session, "vni": None, "collector": self.collector,
                    "file": os.path.basename(self.path), "file_first_ns": self.first, "file_last_ns": self.last,
                    "file_packets": self.packets, "file_bytes": self.size, "index_complete": True,
                    "first_ns": first, "last_ns": last, "packets": packets, "bytes": nbytes,
                    "first_offset": off, "end_offset": end, "ether_type": 2048, "vlans": [], "ip_version": 4,
                    "protocol": 6, "src": src, "dst": dst, "src_port": sport, "dst_port": dport,
                    "fragments": False, "ip6_ext": False}, separators=(",", ":")) + "\n")
        os.rename(self.path + ".part", self.path)


def frame(src, dst, sport, dport, size, pad):
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, size - 14, 0, 0, 64, 6, 0, bytes(map(int, src.split("."))),
                     bytes(map(int, dst.split("."))))
    tcp = struct.pack("!HHIIBBHHH", sport, dport, 0, 0, 0x50, 0x18, 65535, 0, 0)
    return b"\x02\x00\x00\x00\x00\xbb\x02\x00\x00\x00\x00\xaa\x08\x00" + ip + tcp + pad[:size - 54]


def generate(root, total_bytes, collectors):
    rnd = random.Random(7)
    pad = bytes(rnd.randrange(256) for _ in range(1500))
    stamp_ns = (int(time.time()) - 3600) * 1_000_000_000
    open_files, seq = {}, {}
    written, flow_id = 0, 0
    active = []
    flows_started = []
    while written < total_bytes:
        while len(active) < ACTIVE:
            f = flow_id
            flow_id += 1
            client = f"10.1.{(f // 250) % 250}.{f % 250 + 1}"
            server = f"10.2.0.{f % 10 + 1}"
            active.append([f, client, server, 20000 + f % 40000, 443 if f % 2 else 5432, PACKETS_PER_FLOW])
            flows_started.append((f, stamp_ns))
        i = rnd.randrange(len(active))
        f, client, server, cport, sport, left = active[i]
        forward = rnd.random() < 0.5
        session = SESSIONS[f % 2]
        collector = (f + (0 if forward else 1)) % collectors  # the two directions on two collectors
        src, dst, sp, dp = (client, server, cport, sport) if forward else (server, client, sport, cport)
        data = frame(src, dst, sp, dp, rnd.randrange(60, 1400), pad)
        key = (collector, session)
        out = open_files.get(key)
        if out is None or out.size + len(data) + 16 > ROTATE:
            if out:
                out.finish()
            seq[key] = seq.get(key, 0) + 1
            d = os.path.join(root, f"collector-{collector}", session)
            os.makedirs(d, exist_ok=True)
            name = f"{session}-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime(stamp_ns // 1_000_000_000))}-{seq[key]:06d}.pcap"
            out = open_files[key] = File(os.path.join(d, name), session, f"collector-{collector}")
        out.add(stamp_ns, data, (src, dst, sp, dp))
        written += len(data) + 16
        stamp_ns += 20_000
        active[i][5] -= 1
        if active[i][5] == 0:
            active.pop(i)
    for out in open_files.values():
        out.finish()
    return flow_id


def all_files(root):
    out = []
    for dirpath, _, names in os.walk(root):
        out += [os.path.join(dirpath, n) for n in names if n.endswith(".pcap")]
    return sorted(out)


def count(path):
    out = subprocess.run(["tcpdump", "-r", path, "-n", "-q"], capture_output=True, text=True, timeout=600)
    return len(out.stdout.splitlines())


def main():
    o = args()
    root = o["dir"] or tempfile.mkdtemp(prefix="mirrortap-find-bench-")
    try:
        t0 = time.time()
        flows = generate(root, int(o["gb"] * (1 << 30)), int(o["collectors"]))
        files = all_files(root)
        stored = sum(os.path.getsize(f) for f in files)
        print(f"fleet: {int(o['collectors'])} collectors, {len(files)} files, {stored / (1 << 30):.2f} GiB, "
              f"{flows} flows, written in {time.time() - t0:.0f} s")
        f = flows // 2
        expression = f"host 10.1.{(f // 250) % 250}.{f % 250 + 1} and tcp port {20000 + f % 40000}"
        out = os.path.join(root, "find.pcap")
        cmd = [os.path.join(o["bindir"], "mirrortap-find")]
        for c in range(int(o["collectors"])):
            cmd += ["--from", os.path.join(root, f"collector-{c}")]
        t0 = time.time()
        r = subprocess.run(cmd + ["-w", out, expression], capture_output=True, text=True, timeout=3600)
        find_s = time.time() - t0
        if r.returncode != 0:
            sys.exit(f"mirrortap-find failed: {r.stderr}")
        summary = [ln for ln in r.stderr.splitlines() if "pcap bytes" in ln][-1].split()
        find_read = int(summary[2])
        find_packets = count(out)
        t0 = time.time()
        tcpdump_packets = 0
        for path in files:
            part = os.path.join(root, "tcpdump.pcap")
            subprocess.run(["tcpdump", "-r", path, "-w", part, expression], capture_output=True, check=True,
                           timeout=3600)
            tcpdump_packets += count(part) if os.path.getsize(part) > 24 else 0
        tcpdump_s = time.time() - t0
        print(f"query: {expression!r}")
        print("| method | wall s | bytes read | of stored | packets |")
        print("| --- | --- | --- | --- | --- |")
        print(f"| mirrortap-find | {find_s:.2f} | {find_read} | {100 * find_read / stored:.3f} % | {find_packets} |")
        print(f"| tcpdump -r each file | {tcpdump_s:.2f} | {stored} | 100 % | {tcpdump_packets} |")
        print(f"find is {tcpdump_s / find_s:.0f}x faster and reads {stored / max(find_read, 1):.0f}x fewer bytes")
        if find_packets != tcpdump_packets:
            print(f"FAILED: find wrote {find_packets} packets, tcpdump found {tcpdump_packets}")
            return 1
        return 0
    finally:
        if not o["keep"]:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
