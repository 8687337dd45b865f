#!/usr/bin/python3
"""Checks that a mirror is in wire order, for tests/sender/order_sender.sh.

The truth is one tcpdump on the source interface, both directions in one
capture (the interface's own order). The mirror is what the collector wrote.
Both are cut down to the TCP connection on --port and the UDP requests and
responses on --udp-port.

--exact: the mirror's frames are the truth's, byte for byte and in the same
order (offloads off: what the capture saw is what the wire carried).
Otherwise (offloads on: the truth holds the kernel's super-frames, the mirror
the segments the wire carried) the order is compared by (direction, ACK
number) with repeats run together: a super-frame's segments all carry its
ACK number, so splitting one changes nothing, while an ACK mirrored before
the data it acknowledges does. A UDP datagram is keyed by its addresses,
ports and payload: a response mirrored before its request changes the order.

Either way `tshark -q -z expert` must flag no more TCP analysis events (its
"Sequence" group, errors, warnings and notes) on the mirror than on the
truth, summary by summary.
"""
import argparse
import collections
import re
import struct
import subprocess
import sys

from check_mirror import read_pcap


def fields(frame):
    """(protocol, source, destination, source port, destination port, TCP ack or UDP payload), or None."""
    at, ethertype = 12, struct.unpack("!H", frame[12:14])[0]
    while ethertype in (0x8100, 0x88A8):
        at += 4
        ethertype = struct.unpack("!H", frame[at:at + 2])[0]
    ip = at + 2
    if ethertype == 0x0800 and len(frame) >= ip + 20 and frame[ip + 9] in (6, 17):
        l4, protocol = ip + (frame[ip] & 0x0F) * 4, frame[ip + 9]
        src, dst = frame[ip + 12:ip + 16], frame[ip + 16:ip + 20]
    elif ethertype == 0x86DD and len(frame) >= ip + 40 and frame[ip + 6] in (6, 17):
        l4, protocol = ip + 40, frame[ip + 6]
        src, dst = frame[ip + 8:ip + 24], frame[ip + 24:ip + 40]
    else:
        return None
    if len(frame) < l4 + 12:
        return None
    sport, dport, _seq, ack = struct.unpack("!HHII", frame[l4:l4 + 12])
    return protocol, src, dst, sport, dport, ack if protocol == 6 else frame[l4 + 8:]


def connection(path, port, udp_port):
    frames = []
    for ts, frame in read_pcap(path):
        f = fields(frame)
        if f and (port if f[0] == 6 else udp_port) in (f[3], f[4]):
            frames.append((frame, f, ts))
    return frames


def ack_order(frames):
    keys = []
    for _, key, _ in frames:
        if not keys or keys[-1] != key:
            keys.append(key)
    return keys


def expert(path, port):
    out = subprocess.run(["tshark", "-n", "-r", path, "-q", "-z", f"expert,tcp.port=={port}"],
                         capture_output=True, text=True, check=True).stdout
    # Errors, Warnings and Notes; Chats (a SYN, a FIN) are events, not flags.
    counts = collections.Counter()
    level = None
    for line in out.splitlines():
        heading = re.match(r"(Errors|Warns|Warnings|Notes|Chats|Comments) \(\d+\)", line)
        if heading:
            level = heading.group(1)
            continue
        m = re.match(r"\s+(\d+)\s+Sequence\s+TCP\s+(.*\S)\s*$", line)
        if m and level not in ("Chats", "Comments"):
            counts[m.group(2)] += int(m.group(1))
    return counts


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--truth", required=True)
    ap.add_argument("--mirror", required=True, nargs="+")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--udp-port", type=int, required=True)
    ap.add_argument("--exact", action="store_true")
    ap.add_argument("--merged", required=True, help="where to write the mirror's frames as one pcap for tshark")
    a = ap.parse_args()

    truth = connection(a.truth, a.port, a.udp_port)
    mirror = []
    for path in a.mirror:
        mirror += connection(path, a.port, a.udp_port)
    # One pcap of the mirror for tshark (the collector may have rotated).
    with open(a.merged, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for frame, _, ts in mirror:
            usec = round(ts * 1e6)
            f.write(struct.pack("<IIII", usec // 1000000, usec % 1000000, len(frame), len(frame)) + frame)

    ok = True
    udp = sum(1 for _, f, _ in truth if f[0] == 17)
    print(f"truth: {len(truth)} frames of the connection and the UDP exchange ({udp} datagrams); mirror: {len(mirror)}")
    if udp == 0:
        print("FAIL: the UDP requests and responses are missing from the truth")
        ok = False
    if a.exact:
        same = [t[0] for t in truth] == [m[0] for m in mirror]
        if not same:
            first = next((i for i, (t, m) in enumerate(zip(truth, mirror)) if t[0] != m[0]), min(len(truth), len(mirror)))
            print(f"FAIL: the mirror differs from the truth from frame {first + 1} on (frames or their order)")
            ok = False
        else:
            print("order: every frame, byte for byte, in the interface's order")
    else:
        t, m = ack_order(truth), ack_order(mirror)
        if t != m:
            first = next((i for i, (x, y) in enumerate(zip(t, m)) if x != y), min(len(t), len(m)))
            print(f"FAIL: (direction, ACK) order differs from step {first + 1} of {len(t)} (mirror has {len(m)})")
            ok = False
        else:
            print(f"order: the same {len(t)} (direction, ACK) steps in the same order")

    truth_flags, mirror_flags = expert(a.truth, a.port), expert(a.merged, a.port)
    print(f"tshark -z expert, TCP analysis: truth {sum(truth_flags.values())} {dict(truth_flags)}; "
          f"mirror {sum(mirror_flags.values())} {dict(mirror_flags)}")
    for summary, n in mirror_flags.items():
        if n > truth_flags.get(summary, 0):
            print(f"FAIL: the mirror has {n} x '{summary}', the source's own capture {truth_flags.get(summary, 0)}")
            ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
