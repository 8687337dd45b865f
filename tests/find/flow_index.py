"""A flow index writer for the tests, following /docs' flow index format
(FLOW_INDEX_SPEC: gzip of JSON lines, one line per flow and direction, keys in
the spec's order) from a finished pcap, until the collector writes its own.
Also usable as a script: flow_index.py PCAP [--collector ID] [--vni N]."""
import gzip
import ipaddress
import json
import os
import struct
import sys

VLAN_TPIDS = (0x8100, 0x88A8, 0x9100)
MAX_VLANS = 2
IPV6_EXTENSIONS = (0, 43, 44, 60)
PORT_PROTOCOLS = (6, 17, 132)


def records(path):
    """(offset, ts_ns, caplen, wire length, data) of every record of a nanosecond or microsecond pcap."""
    with open(path, "rb") as f:
        blob = f.read()
    magic = struct.unpack_from("<I", blob, 0)[0]
    unit = {0xA1B23C4D: 1, 0xA1B2C3D4: 1000}[magic]
    pos = 24
    while pos + 16 <= len(blob):
        sec, frac, caplen, wire = struct.unpack_from("<IIII", blob, pos)
        if pos + 16 + caplen > len(blob):
            break
        yield pos, sec * 1_000_000_000 + frac * unit, caplen, wire, blob[pos + 16:pos + 16 + caplen]
        pos += 16 + caplen


def mac_text(b):
    return ":".join(f"{x:02x}" for x in b)


def flow_key(frame):
    """(key fields dict, fragment, ip6_ext) as the spec keys a frame; fields not reached are None."""
    k = dict(ether_type=None, vlans=[], ip_version=None, protocol=None, src=None, dst=None,
             src_port=None, dst_port=None)
    frag = ext = False
    if len(frame) < 14:
        return k, frag, ext
    pos = 12
    et = struct.unpack_from("!H", frame, pos)[0]
    while et in VLAN_TPIDS and len(k["vlans"]) < MAX_VLANS and pos + 6 <= len(frame):
        k["vlans"].append(struct.unpack_from("!H", frame, pos + 2)[0] & 0xFFF)
        pos += 4
        et = struct.unpack_from("!H", frame, pos)[0]
    k["ether_type"] = et
    l3 = pos + 2
    ports_at = None
    if et == 0x0800 and len(frame) >= l3 + 20 and frame[l3] >> 4 == 4:
        ihl = (frame[l3] & 0xF) * 4
        k["ip_version"] = 4
        k["protocol"] = frame[l3 + 9]
        k["src"] = str(ipaddress.IPv4Address(frame[l3 + 12:l3 + 16]))
        k["dst"] = str(ipaddress.IPv4Address(frame[l3 + 16:l3 + 20]))
        flags = struct.unpack_from("!H", frame, l3 + 6)[0]
        frag = bool(flags & 0x2000 or flags & 0x1FFF)
        if not flags & 0x1FFF:
            ports_at = l3 + ihl
    elif et == 0x86DD and len(frame) >= l3 + 40 and frame[l3] >> 4 == 6:
        k["ip_version"] = 6
        k["src"] = str(ipaddress.IPv6Address(frame[l3 + 8:l3 + 24]))
        k["dst"] = str(ipaddress.IPv6Address(frame[l3 + 24:l3 + 40]))
        nh, pos6, first = frame[l3 + 6], l3 + 40, True
        while nh in IPV6_EXTENSIONS:
            ext = True
            if pos6 + 8 > len(frame):
                nh = None
                break
            if nh == 44:
                frag = True
                first = first and (struct.unpack_from("!H", frame, pos6 + 2)[0] & 0xFFF8) == 0
                nh, pos6 = frame[pos6], pos6 + 8
            else:
                nh, pos6 = frame[pos6], pos6 + (frame[pos6 + 1] + 1) * 8
        k["protocol"] = nh
        if nh is not None and first:
            ports_at = pos6
    elif et not in (0x0800, 0x86DD):
        k["dst"], k["src"] = mac_text(frame[0:6]), mac_text(frame[6:12])
    if k["protocol"] in PORT_PROTOCOLS and ports_at is not None and ports_at + 4 <= len(frame):
        k["src_port"], k["dst_port"] = struct.unpack_from("!HH", frame, ports_at)
    return k, frag, ext


def index_lines(pcap, session, collector, vni=None):
    recs = list(records(pcap))
    size = os.path.getsize(pcap)
    flows = {}
    for offset, ts, caplen, wire, data in recs:
        k, frag, ext = flow_key(data)
        key = (tuple(k["vlans"]), k["ether_type"], k["ip_version"], k["protocol"], k["src"], k["dst"],
               k["src_port"], k["dst_port"])
        f = flows.get(key)
        if f is None:
            f = flows[key] = dict(k=k, first_ns=ts, last_ns=ts, packets=0, bytes=0, first_offset=offset,
                                  end_offset=0, fragments=False, ip6_ext=False)
        f["last_ns"] = ts
        f["packets"] += 1
        f["bytes"] += wire
        f["end_offset"] = offset + 16 + caplen
        f["fragments"] |= frag
        f["ip6_ext"] |= ext
    lines = []
    for f in flows.values():
        k = f["k"]
        line = {"session": session, "vni": vni, "collector": collector, "file": os.path.basename(pcap),
                "file_first_ns": recs[0][1], "file_last_ns": recs[-1][1], "file_packets": len(recs),
                "file_bytes": size, "index_complete": True,
                "first_ns": f["first_ns"], "last_ns": f["last_ns"], "packets": f["packets"], "bytes": f["bytes"],
                "first_offset": f["first_offset"], "end_offset": f["end_offset"],
                "ether_type": k["ether_type"], "vlans": k["vlans"], "ip_version": k["ip_version"],
                "protocol": k["protocol"], "src": k["src"], "dst": k["dst"], "src_port": k["src_port"],
                "dst_port": k["dst_port"], "fragments": f["fragments"], "ip6_ext": f["ip6_ext"]}
        lines.append(json.dumps(line, separators=(",", ":")))
    return lines


def write_index(pcap, session, collector, vni=None):
    """Writes PCAP.flows.json.gz beside the pcap (via .part, then renamed, as the writer does)."""
    out = pcap + ".flows.json.gz"
    with gzip.open(out + ".part", "wt") as f:
        for line in index_lines(pcap, session, collector, vni):
            f.write(line + "\n")
    os.rename(out + ".part", out)
    return out


if __name__ == "__main__":
    args = sys.argv[1:]
    collector = args[args.index("--collector") + 1] if "--collector" in args else "local"
    vni = int(args[args.index("--vni") + 1]) if "--vni" in args else None
    path = args[0]
    print(write_index(path, os.path.basename(os.path.dirname(os.path.abspath(path))), collector, vni))
