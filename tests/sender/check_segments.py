#!/usr/bin/python3
"""Checks that aggregates were mirrored as the wire's frames, for tests/sender/segments_sender.sh.

Reads the collector's pcaps back (this script's own parse for lengths and
payloads, tshark for the checksums and the headers it recognises) and
demands, for each flow the test sent:
  udp4  port 9000: UDP_SEGMENT 1000 over 5500 bytes: 6 datagrams, 1000 * 5 + 500,
        IPv4 ids consecutive;
  udp6  port 9001: a destination options header, UDP_SEGMENT 1200 over 4000
        bytes: 4 datagrams, 1200 * 3 + 400, the header in each;
  tcp6  port 9002: a destination options header, 60000 bytes: every segment
        within the link MTU with the header, the stream whole;
  hop6  port 9003: a hop-by-hop header, one 300-byte datagram as sent;
  vxlan port 9004: 60000 bytes of TCP through a VXLAN device (UDP 4790) over
        the interface: every tunnel packet within the link MTU, outer IPv4
        checksum right, the inner stream whole;
  vxlan port 9005: UDP_SEGMENT 1000 over 3500 bytes through the same tunnel:
        4 tunnel packets of 1000 * 3 + 500, inner IPv4 ids consecutive;
each with a right checksum in tshark's reading, payloads as sent, in order.
--truth (tcpdump on the source interface) shows the aggregates the kernel
handed the captures, so that the test is known to have made some.
"""
import argparse
import struct
import subprocess
import sys

from check_mirror import read_pcap


def pattern(port, n):
    return bytes((i + port) % 251 for i in range(n))


def parse(frame):
    """(ip version, ipv4 id, extension headers, protocol, sport, dport, seq, payload) or None."""
    if len(frame) < 14 or struct.unpack("!H", frame[12:14])[0] not in (0x0800, 0x86DD):
        return None
    ip = 14
    ext = []
    if frame[ip] >> 4 == 4:
        version, ident, proto = 4, struct.unpack("!H", frame[ip + 4:ip + 6])[0], frame[ip + 9]
        end = ip + struct.unpack("!H", frame[ip + 2:ip + 4])[0]
        l4 = ip + (frame[ip] & 0x0F) * 4
    else:
        version, ident, proto = 6, None, frame[ip + 6]
        end = ip + 40 + struct.unpack("!H", frame[ip + 4:ip + 6])[0]
        l4 = ip + 40
        while proto in (0, 43, 60):
            ext.append(proto)
            proto, l4 = frame[l4], l4 + (frame[l4 + 1] + 1) * 8
    if proto == 17:
        sport, dport = struct.unpack("!HH", frame[l4:l4 + 4])
        return version, ident, ext, proto, sport, dport, None, frame[l4 + 8:end]
    if proto == 6:
        sport, dport, seq = struct.unpack("!HHI", frame[l4:l4 + 8])
        return version, ident, ext, proto, sport, dport, seq, frame[l4 + (frame[l4 + 12] >> 4) * 4:end]
    return None


def ipv4_checksum(frame):
    """The folded sum of the outer IPv4 header: 0 when its checksum is right."""
    ihl = (frame[14] & 0x0F) * 4
    s = sum(struct.unpack(f"!{ihl // 2}H", frame[14:14 + ihl]))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def tshark_checksums(path):
    """Per frame: (protocols, udp checksum status, tcp checksum status); 1 = good."""
    out = subprocess.run(["tshark", "-n", "-r", path, "-d", "udp.port==4790,vxlan",
                          "-o", "udp.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE",
                          "-T", "fields", "-E", "separator=;", "-e", "frame.protocols", "-e", "udp.checksum.status",
                          "-e", "tcp.checksum.status"], capture_output=True, text=True, check=True).stdout
    return [line.split(";") for line in out.splitlines()]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mirror", required=True, nargs="+")
    ap.add_argument("--truth", required=True)
    ap.add_argument("--merged", required=True)
    ap.add_argument("--mtu", type=int, default=1500)
    a = ap.parse_args()

    records = []
    for path in a.mirror:
        records += list(read_pcap(path))
    with open(a.merged, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for ts, frame in records:
            usec = round(ts * 1e6)
            f.write(struct.pack("<IIII", usec // 1000000, usec % 1000000, len(frame), len(frame)) + frame)
    shark = tshark_checksums(a.merged)
    ok = True

    def fail(why):
        nonlocal ok
        print("FAIL: " + why)
        ok = False

    flows = {9000: [], 9001: [], 9002: [], 9003: [], 9004: [], 9005: []}
    for (_, frame), (protocols, udp_status, tcp_status) in zip(records, shark):
        p = parse(frame)
        if p and p[3] == 17 and p[5] == 4790:  # the tunnel: its inner frame after the VXLAN header
            if ipv4_checksum(frame) != 0:
                fail(f"vxlan: a bad outer IPv4 header checksum ({protocols})")
            inner = parse(p[7][8:])
            if inner and 9004 in (inner[4], inner[5]):
                flows[9004].append((frame, inner, protocols, tcp_status.split(",")[-1]))
            elif inner and inner[5] == 9005:
                flows[9005].append((frame, inner, protocols, udp_status.split(",")[-1]))
            continue
        if not p or p[5] not in flows:
            continue
        flows[p[5]].append((frame, p, protocols, udp_status if p[3] == 17 else tcp_status))

    def check_udp(port, version, ext, sizes, name):
        got = flows[port]
        lengths = [len(p[7]) for _, p, _, _ in got]
        print(f"{name}: {len(got)} datagrams of {lengths} payload bytes (want {sizes})")
        if lengths != sizes:
            fail(f"{name}: not the datagrams the wire carried")
        if b"".join(p[7] for _, p, _, _ in got) != pattern(port, sum(sizes)):
            fail(f"{name}: payload not as sent")
        for frame, p, protocols, status in got:
            if p[0] != version or p[2] != ext:
                fail(f"{name}: IPv{p[0]} extension headers {p[2]}, want IPv{version} {ext} ({protocols})")
            if status != "1":
                fail(f"{name}: tshark reads a bad UDP checksum ({protocols})")
            if len(frame) - 14 > a.mtu:
                fail(f"{name}: a {len(frame)}-byte frame is longer than the link's MTU {a.mtu} allows")
        ids = [p[1] for _, p, _, _ in got]
        if version == 4 and ids != [(ids[0] + i) & 0xFFFF for i in range(len(ids))]:
            fail(f"{name}: IPv4 ids {ids} not consecutive, as software GSO numbers them")

    check_udp(9000, 4, [], [1000] * 5 + [500], "udp4 UDP_SEGMENT")
    check_udp(9001, 6, [60], [1200] * 3 + [400], "udp6 UDP_SEGMENT with destination options")
    check_udp(9003, 6, [0], [300], "udp6 with hop-by-hop options")
    check_udp(9005, 4, [], [1000] * 3 + [500], "udp4 UDP_SEGMENT through a VXLAN device")

    def check_tcp(port, ext, name):
        frames = flows[port]
        data = [(f, p, protocols, status) for f, p, protocols, status in frames if p[7]]
        syn = [p for _, p, _, _ in frames if not p[7] and p[4] != port]
        biggest = max((len(f) for f, _, _, _ in data), default=0)
        bad = sum(1 for _, _, _, status in frames if status != "1")
        print(f"{name}: {len(data)} data segments, the largest frame {biggest} bytes; {bad} of {len(frames)} "
              "frames with a TCP checksum tshark calls bad")
        if bad:
            fail(f"{name}: tshark reads bad TCP checksums")
        if not data or not syn:
            fail(f"{name}: no data segments mirrored")
            return
        isn = syn[0][6]  # the SYN's sequence number
        stream = bytearray(60000)
        seen = bytearray(60000)
        for frame, p, protocols, status in data:
            if p[2] != ext:
                fail(f"{name}: a segment without its extension headers {ext} ({protocols})")
            if len(frame) - 14 > a.mtu:
                fail(f"{name}: a {len(frame)}-byte frame is longer than the link's MTU {a.mtu} allows")
            at = (p[6] - isn - 1) & 0xFFFFFFFF
            stream[at:at + len(p[7])] = p[7]
            seen[at:at + len(p[7])] = b"\x01" * len(p[7])
        if bytes(stream) != pattern(port, 60000) or seen.count(0):
            fail(f"{name}: the mirrored segments do not make the stream that was sent")

    check_tcp(9002, [60], "tcp6 with destination options")
    check_tcp(9004, [], "tcp4 through a VXLAN device")

    aggregates = sum(1 for _, frame in read_pcap(a.truth) if len(frame) - 14 > a.mtu)
    print(f"truth: {aggregates} frames longer than the link MTU at the source interface's capture (aggregates)")
    if aggregates == 0:
        fail("the kernel made no aggregates: this test tested nothing")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
