#!/usr/bin/python3
"""Checks a mirror against the truth, for tests/sender/e2e_sender.sh.

The truth is what tcpdump saw on host A's interface, one file per direction
(tcpdump -Q in / -Q out, so direction comes from the kernel, not from the
sender's MAC rule). This script applies AWS Traffic Mirroring semantics to it
on its own, from the same YAML the sender ran with, and demands that each
session's pcap files written by the collector hold exactly the frames AWS
would assign that session, truncated to its packet length and the path MTU:
nothing more, nothing less, nothing twice.

Frames outside the window between the START and END marker packets may be
missing (the sender starts after and stops before tcpdump), but what the
collector wrote must still be in the truth, in the right session.
"""
import argparse
import collections
import glob
import ipaddress
import os
import struct
import sys

import yaml


def read_pcap(path):
    """Yields (timestamp_seconds, bytes) for each record of a pcap file."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        return
    magic_le = struct.unpack("<I", data[:4])[0]
    if magic_le in (0xA1B2C3D4, 0xA1B23C4D):
        endian = "<"
        magic = magic_le
    else:
        endian = ">"
        magic = struct.unpack(">I", data[:4])[0]
        if magic not in (0xA1B2C3D4, 0xA1B23C4D):
            raise ValueError(f"{path}: not a pcap file")
    frac = 1e-9 if magic == 0xA1B23C4D else 1e-6
    linktype = struct.unpack(endian + "I", data[20:24])[0]
    if linktype != 1:
        raise ValueError(f"{path}: link type {linktype}, want Ethernet")
    at = 24
    while at + 16 <= len(data):
        sec, sub, caplen, _length = struct.unpack(endian + "IIII", data[at:at + 16])
        at += 16
        yield sec + sub * frac, data[at:at + caplen]
        at += caplen


class Packet:
    def __init__(self, frame):
        self.ip = False
        self.protocol = None
        self.src = self.dst = None
        self.sport = self.dport = None
        if len(frame) < 14:
            return
        etype = struct.unpack("!H", frame[12:14])[0]
        at = 14
        while etype in (0x8100, 0x88A8, 0x9100) and len(frame) >= at + 4:
            etype = struct.unpack("!H", frame[at + 2:at + 4])[0]
            at += 4
        first_fragment = True
        if etype == 0x0800 and len(frame) >= at + 20 and frame[at] >> 4 == 4:
            ihl = (frame[at] & 0x0F) * 4
            self.protocol = frame[at + 9]
            self.src = ipaddress.IPv4Address(frame[at + 12:at + 16])
            self.dst = ipaddress.IPv4Address(frame[at + 16:at + 20])
            first_fragment = (struct.unpack("!H", frame[at + 6:at + 8])[0] & 0x1FFF) == 0
            l4 = at + ihl
            self.ip = True
        elif etype == 0x86DD and len(frame) >= at + 40 and frame[at] >> 4 == 6:
            self.protocol = frame[at + 6]
            self.src = ipaddress.IPv6Address(frame[at + 8:at + 24])
            self.dst = ipaddress.IPv6Address(frame[at + 24:at + 40])
            l4 = at + 40
            self.ip = True
        if self.ip and first_fragment and self.protocol in (6, 17, 132) and len(frame) >= l4 + 4:
            self.sport, self.dport = struct.unpack("!HH", frame[l4:l4 + 4])

    def __str__(self):
        if not self.ip:
            return "non-IP"
        return f"{self.src}.{self.sport} > {self.dst}.{self.dport} proto {self.protocol}"


def fold(total):
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total


def ones_complement_sum(data):
    if len(data) % 2:
        data += b"\0"
    return fold(sum(struct.unpack("!%dH" % (len(data) // 2), data)))


def on_the_wire(frame):
    """A frame as the wire carried it: checksum offload leaves the capture a
    partial TCP/UDP checksum (the pseudo header's sum) that the NIC
    completes, and veth passes it on to the receiver; complete it. Any other
    checksum stays."""
    if len(frame) < 14:
        return frame
    etype = struct.unpack("!H", frame[12:14])[0]
    at = 14
    if etype == 0x0800 and len(frame) >= at + 20:
        ihl = (frame[at] & 0x0F) * 4
        if struct.unpack("!H", frame[at + 6:at + 8])[0] & 0x3FFF:
            return frame
        proto, end, l4 = frame[at + 9], at + struct.unpack("!H", frame[at + 2:at + 4])[0], at + ihl
        pseudo = frame[at + 12:at + 20]
    elif etype == 0x86DD and len(frame) >= at + 40:
        proto, end, l4 = frame[at + 6], at + 40 + struct.unpack("!H", frame[at + 4:at + 6])[0], at + 40
        pseudo = frame[at + 8:at + 40]
    else:
        return frame
    if proto not in (6, 17) or end > len(frame) or end < l4 + (20 if proto == 6 else 8):
        return frame
    field = l4 + (16 if proto == 6 else 6)
    partial = (ones_complement_sum(pseudo + struct.pack("!HH", proto, end - l4)))
    if frame[field:field + 2] != struct.pack("!H", partial):
        return frame
    segment = frame[l4:field] + b"\0\0" + frame[field + 2:end]
    total = ones_complement_sum(pseudo + struct.pack("!HH", proto, end - l4) + segment)
    checksum = (~total) & 0xFFFF
    if proto == 17 and checksum == 0:
        checksum = 0xFFFF
    return frame[:field] + struct.pack("!H", checksum) + frame[field + 2:]


PROTOCOL_NAMES = {"tcp": 6, "udp": 17, "icmp": 1, "icmpv6": 58, "sctp": 132}


def protocol_of(rule):
    p = rule.get("protocol")
    if p is None:
        return None
    p = str(p).lower()
    if p in ("all", "0", "-1"):
        return None
    return PROTOCOL_NAMES.get(p, None) if p in PROTOCOL_NAMES else int(p)


def rule_matches(rule, pkt):
    """AWS: protocol absent = all; CIDRs per family; port ranges only for TCP and UDP."""
    if not pkt.ip:
        return False
    proto = protocol_of(rule)
    if proto is not None and proto != pkt.protocol:
        return False
    for key, addr in (("source_cidr_block", pkt.src), ("destination_cidr_block", pkt.dst)):
        if key in rule:
            net = ipaddress.ip_network(str(rule[key]), strict=False)
            if net.version != addr.version or addr not in net:
                return False
    for key, port in (("source_port_range", pkt.sport), ("destination_port_range", pkt.dport)):
        if key in rule:
            if pkt.protocol not in (6, 17) or port is None:
                return False
            if not rule[key]["from_port"] <= port <= rule[key]["to_port"]:
                return False
    return True


def assign(sessions, direction, pkt):
    """The session AWS mirrors this packet to, or None."""
    for s in sessions:
        for rule in sorted(s["filter"].get(direction, []), key=lambda r: r["rule_number"]):
            if rule_matches(rule, pkt):
                if rule["rule_action"] == "accept":
                    return s
                break  # rejected by this session: the next session may take it
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", required=True)
    ap.add_argument("--truth-in", required=True)
    ap.add_argument("--truth-out", required=True)
    ap.add_argument("--sessions-dir", required=True)
    ap.add_argument("--mtu", type=int, default=1500)
    ap.add_argument("--start-marker", default="MTSTART")
    ap.add_argument("--end-marker", default="MTEND")
    args = ap.parse_args()

    with open(args.config) as f:
        sessions = sorted(yaml.safe_load(f)["sessions"], key=lambda s: s["session_number"])
    max_inner = args.mtu - 40  # AWS: 54 bytes around the inner IP packet, 14 of them its Ethernet header

    truth = [(t, frame, "ingress") for t, frame in read_pcap(args.truth_in)]
    truth += [(t, frame, "egress") for t, frame in read_pcap(args.truth_out)]
    truth.sort(key=lambda x: x[0])
    starts = [t for t, frame, d in truth if d == "egress" and args.start_marker.encode() in frame]
    ends = [t for t, frame, d in truth if d == "egress" and args.end_marker.encode() in frame]
    if not starts or not ends:
        print("FAIL: markers not found in the truth capture")
        return 1
    t_start, t_end = starts[0], ends[-1]

    expected_all = collections.Counter()
    expected_window = collections.Counter()
    describe = {}
    not_mirrored = 0
    per_session_window = collections.Counter()
    for t, frame, direction in truth:
        frame = on_the_wire(frame)
        pkt = Packet(frame)
        s = assign(sessions, direction, pkt)
        if s is None:
            if t_start <= t <= t_end:
                not_mirrored += 1
            continue
        length = min(len(frame), s.get("packet_length", 1 << 30), max_inner)
        key = (s["virtual_network_id"], frame[:length])
        describe[key] = f"{direction} {pkt} ({len(frame)} bytes, sent {length})"
        expected_all[key] += 1
        if t_start <= t <= t_end:
            expected_window[key] += 1
            per_session_window[s["virtual_network_id"]] += 1

    actual = collections.Counter()
    per_session_actual = collections.Counter()
    dirs = sorted(glob.glob(os.path.join(args.sessions_dir, "*")))
    for d in dirs:
        name = os.path.basename(d)
        if not name.startswith("vni-"):
            print(f"FAIL: unexpected session directory {name}")
            return 1
        vni = int(name[4:])
        for path in sorted(glob.glob(os.path.join(d, "*.pcap"))):
            if os.path.islink(path):
                continue
            for _t, frame in read_pcap(path):
                actual[(vni, frame)] += 1
                per_session_actual[vni] += 1

    failures = []
    missing = expected_window - actual
    extra = actual - expected_all
    for key, n in missing.items():
        failures.append(f"missing from vni-{key[0]} ({n}x): {describe[key]}")
    for key, n in extra.items():
        pkt = Packet(key[1])
        failures.append(f"unexpected in vni-{key[0]} ({n}x): {pkt} ({len(key[1])} bytes)"
                        + (f", AWS semantics: {describe[(key[0], key[1])]}" if key in describe else ""))

    print(f"truth: {len(truth)} frames, {sum(expected_window.values())} mirrored and "
          f"{not_mirrored} not mirrored inside the marker window")
    for s in sessions:
        vni = s["virtual_network_id"]
        print(f"session {s['session_number']} vni {vni}: expected {per_session_window[vni]} in the window "
              f"({expected_all_count(expected_all, vni)} in all), collector wrote {per_session_actual[vni]}")
    if failures:
        print("FAIL:")
        for line in failures[:40]:
            print("  " + line)
        if len(failures) > 40:
            print(f"  ... and {len(failures) - 40} more")
        return 1
    print("OK: every session holds exactly the frames AWS semantics assign it")
    return 0


def expected_all_count(counter, vni):
    return sum(n for (v, _), n in counter.items() if v == vni)


if __name__ == "__main__":
    sys.exit(main())
