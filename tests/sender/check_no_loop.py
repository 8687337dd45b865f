#!/usr/bin/python3
"""Checks tests/sender/loop_sender.sh's run: one mirror per original, none of a mirror.

The truth is tcpdump on A's interface towards B (both directions). The test
traffic (pings larger than the MTU, so IPv4 and IPv6 fragments, and bulk TCP)
runs between A's and B's addresses only while tcpdump runs; the mirror must
hold each of those frames exactly once, cut to the path MTU. Nothing mirrored
may be the sender's own VXLAN or a piece of it (a mirror of a mirror).

usage: check_no_loop.py --truth T.pcap --sessions-dir DIR --target ADDR --max-inner N
"""
import argparse
import collections
import glob
import ipaddress
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_mirror import on_the_wire, read_pcap  # noqa: E402

A_B = {ipaddress.ip_address(a) for a in ("10.78.1.1", "10.78.1.2", "fd00:78:1::1", "fd00:78:1::2")}


def ip_header(frame):
    """(version, src, dst, next protocol, fragment?) of an untagged IP frame, or None."""
    if len(frame) < 14:
        return None
    ethertype = struct.unpack("!H", frame[12:14])[0]
    ip = frame[14:]
    if ethertype == 0x0800 and len(ip) >= 20:
        frag = struct.unpack("!H", ip[6:8])[0] & 0x3FFF
        return 4, ipaddress.ip_address(ip[12:16]), ipaddress.ip_address(ip[16:20]), ip[9], frag != 0, ip
    if ethertype == 0x86DD and len(ip) >= 40:
        return 6, ipaddress.ip_address(ip[8:24]), ipaddress.ip_address(ip[24:40]), ip[6], ip[6] == 44, ip
    return None


def is_test_traffic(frame):
    h = ip_header(frame)
    if not h or h[1] not in A_B or h[2] not in A_B:
        return False
    version, _src, _dst, proto, _frag, ip = h
    # IPv6 neighbour discovery comes and goes on its own: not the test's.
    return not (version == 6 and proto == 58 and len(ip) > 40 and 133 <= ip[40] <= 137)


def is_own(frame, target, port):
    h = ip_header(frame)
    if not h or h[2] != target:
        return False
    _version, _src, _dst, proto, frag, ip = h
    if frag:
        return True
    header = (ip[0] & 0x0F) * 4 if _version == 4 else 40
    return proto == 17 and len(ip) >= header + 4 and struct.unpack("!H", ip[header + 2:header + 4])[0] == port


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--truth", required=True)
    ap.add_argument("--sessions-dir", required=True)
    ap.add_argument("--target", required=True)
    ap.add_argument("--port", type=int, default=4789)
    ap.add_argument("--max-inner", type=int, required=True)
    args = ap.parse_args()
    target = ipaddress.ip_address(args.target)

    # The sender completes the partial checksums checksum offload leaves (README).
    truth = [on_the_wire(f) for _t, f in read_pcap(args.truth) if is_test_traffic(f)]
    mirrored = []
    for path in sorted(glob.glob(os.path.join(args.sessions_dir, "*", "*.pcap"))):
        if not os.path.islink(path):
            mirrored += [f for _t, f in read_pcap(path)]

    ok = True
    own = [f for f in mirrored if is_own(f, target, args.port)]
    if own:
        print(f"FAIL: {len(own)} mirrors of the sender's own VXLAN (whole or a fragment): a loop")
        ok = False
    fragments = sum(1 for f in truth if ip_header(f)[4])
    big = sum(1 for f in truth if len(f) > args.max_inner)
    want = collections.Counter(f[:args.max_inner] for f in truth)
    have = collections.Counter(f for f in mirrored if is_test_traffic(f))
    missing = want - have
    extra = have - want
    print(f"truth: {len(truth)} frames of test traffic ({fragments} IP fragments, {big} longer than "
          f"{args.max_inner} bytes); mirrored: {sum(have.values())} of them, {len(mirrored)} frames in all")
    if missing or extra:
        print(f"FAIL: {sum(missing.values())} originals not mirrored exactly once, "
              f"{sum(extra.values())} mirrors without an original (or twice)")
        ok = False
    if not truth or not fragments or not big:
        print("FAIL: the test traffic did not happen as planned (no frames, no fragments or none to cut)")
        ok = False
    if any(len(f) > args.max_inner for f in mirrored):
        print(f"FAIL: a mirrored frame longer than {args.max_inner} bytes")
        ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
