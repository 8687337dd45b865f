"""The flow index beside each pcap (docs/flow-index.md), checked against what tshark reads from
the pcap itself, and queried with a real SQL engine (DuckDB) through the table docs/ defines."""
import gzip
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import (BIN, Collector, SKIP, ethernet, ipv4, run, session_files, udp, udp4_frame, udp6_frame, value,
                     vxlan, check_identities, leftovers)

KEYS = ["session", "vni", "collector", "file", "file_first_ns", "file_last_ns", "file_packets", "file_bytes",
        "index_complete", "first_ns", "last_ns", "packets", "bytes", "first_offset", "end_offset", "ether_type",
        "vlans", "ip_version", "protocol", "src", "dst", "src_port", "dst_port", "fragments", "ip6_ext"]
FLOW_KEY = ["vlans", "ether_type", "ip_version", "protocol", "src", "dst", "src_port", "dst_port"]
SUFFIX = ".flows.json.gz"
COLLECTOR_ID = "it-collector-1"


# ---- frames of every shape the index tells apart ----------------------------------

def tcp(sport, dport, payload=b""):
    return struct.pack("!HHIIBBHHH", sport, dport, 1, 0, 0x50, 0x18, 512, 0, 0) + payload


def tcp4_frame(src, dst, sport, dport, vlans=(), payload=b"t" * 10, total_length=None):
    l4 = tcp(sport, dport, payload)
    return ethernet(0x0800, vlans) + ipv4(6, src, dst, len(l4), total_length) + l4


def ipv4_fragment(src, dst, proto, flags_offset, payload, total):
    return ethernet(0x0800) + struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, 0x4242, flags_offset, 64, proto, 0,
                                          socket.inet_aton(src), socket.inet_aton(dst)) + payload


def ipv6_frame(src, dst, next_header, rest):
    return ethernet(0x86DD) + struct.pack("!IHBB", 0x60000000, len(rest), next_header, 64) + \
        socket.inet_pton(socket.AF_INET6, src) + socket.inet_pton(socket.AF_INET6, dst) + rest


def hop_by_hop(next_header):
    return struct.pack("!BB", next_header, 0) + bytes([1, 4, 0, 0, 0, 0])  # PadN to 8 bytes


def ipv6_fragment_header(next_header, offset_units, more):
    return struct.pack("!BBHI", next_header, 0, (offset_units << 3) | (1 if more else 0), 0x77)


def arp_frame(src_mac_last, dst_mac_last=0xFF):
    body = struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + bytes([2, 0, 0, 0, 0, src_mac_last]) + \
        socket.inet_aton("10.9.9.1") + bytes(6) + socket.inet_aton("10.9.9.2")
    return ethernet(0x0806, dst=dst_mac_last, src=src_mac_last) + body + bytes(18)


def sctp4_frame(src, dst, sport, dport):
    l4 = struct.pack("!HHII", sport, dport, 7, 0) + bytes(16)
    return ethernet(0x0800) + ipv4(132, src, dst, len(l4)) + l4


def icmp4_frame(src, dst):
    l4 = bytes([8, 0, 0, 0, 0, 1, 0, 1]) + b"ping" * 4
    return ethernet(0x0800) + ipv4(1, src, dst, len(l4)) + l4


def mixed_frames():
    """Frames of every shape, some flows several times, both directions of some."""
    q = ((0x8100, 100),)
    qinq = ((0x88A8, 10), (0x8100, 20))
    frames = []
    for i in range(3):
        frames.append(tcp4_frame("10.0.3.7", "10.0.9.1", 40000, 5432, vlans=q))
        frames.append(tcp4_frame("10.0.9.1", "10.0.3.7", 5432, 40000, vlans=q, payload=b"r" * (40 + i)))
    frames += [udp4_frame("10.1.0.1", "10.1.0.2", 1111, 53, vlans=qinq)] * 2
    frames += [udp6_frame("2001:db8::1", "2001:db8::2", 546, 547)] * 2
    frames.append(ipv6_frame("2001:db8::7", "2001:db8::9", 0, hop_by_hop(6) + tcp(40001, 443)))
    frames.append(arp_frame(0xA1))
    frames.append(arp_frame(0xA1))
    frames.append(arp_frame(0xA2))
    # IPv4 fragments of one UDP datagram: the first carries the ports, the later one not.
    first = udp(5000, 6000, b"f" * 24)  # 8 + 24 bytes, of a 48-byte datagram
    frames.append(ipv4_fragment("10.2.0.1", "10.2.0.2", 17, 0x2000, first, 20 + len(first)))
    frames.append(ipv4_fragment("10.2.0.1", "10.2.0.2", 17, 4, b"g" * 16, 20 + 16))
    # IPv6 fragments: first (ports) and later (none).
    frames.append(ipv6_frame("2001:db8::a", "2001:db8::b", 44, ipv6_fragment_header(17, 0, True) +
                             udp(7000, 8000, b"h" * 24)))
    frames.append(ipv6_frame("2001:db8::a", "2001:db8::b", 44, ipv6_fragment_header(17, 4, False) + b"i" * 16))
    frames.append(sctp4_frame("10.3.0.1", "10.3.0.2", 2905, 2906))
    frames.append(icmp4_frame("10.4.0.1", "10.4.0.2"))
    # Truncated: the IP header says 1500 bytes; the mirror kept 40 of them past the IP header.
    frames.append(tcp4_frame("10.5.0.1", "10.5.0.2", 33000, 80, payload=b"x" * 20, total_length=1500))
    # Cut inside the TCP header: no ports.
    frames.append(tcp4_frame("10.5.0.1", "10.5.0.2", 33000, 80, total_length=1500)[:14 + 20 + 2])
    # Cut inside the IPv4 header: keyed by its MACs.
    frames.append(ethernet(0x0800, src=0xC1) + bytes([0x45, 0, 5, 0xDC, 0]))
    return frames


# ---- what tshark reads from the pcap ---------------------------------------------

TSHARK_FIELDS = ["frame.time_epoch", "frame.len", "eth.src", "eth.dst", "eth.type", "ieee8021ad.id", "vlan.id",
                 "vlan.etype",
                 "ip.src", "ip.dst", "ip.proto", "ip.flags.mf", "ip.frag_offset", "ipv6.src", "ipv6.dst", "ipv6.nxt",
                 "ipv6.fraghdr.nxt", "tcp.srcport", "tcp.dstport", "udp.srcport", "udp.dstport", "sctp.srcport",
                 "sctp.dstport", "frame.protocols"]


def time_ns(text):
    sec, _, frac = text.partition(".")
    return int(sec) * 1_000_000_000 + int((frac + "000000000")[:9])


def tshark_records(path):
    """Per record, the index's flow key and counts as tshark dissects them (reassembly off: each
    fragment is its own record)."""
    cmd = ["tshark", "-r", path, "-o", "ip.defragment:FALSE", "-o", "ipv6.defragment:FALSE", "-T", "fields",
           "-E", "occurrence=a", "-E", "aggregator=,"]
    for f in TSHARK_FIELDS:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, f"tshark -r {path}: {out.stderr}"
    records = []
    for line in out.stdout.splitlines():
        r = dict(zip(TSHARK_FIELDS, line.split("\t")))
        records.append(record_key(r))
    return records


def first(text):
    return text.split(",")[0] if text else ""


def record_key(r):
    protocols = r["frame.protocols"].split(":")
    etypes = [x for x in r["vlan.etype"].split(",") if x]
    ether_type = int((etypes[-1] if etypes else r["eth.type"]), 16)
    # tshark names an 802.1ad (0x88A8) tag apart from 802.1Q ones; ours are outermost there.
    vlans = [int(v) for v in (r["ieee8021ad.id"] + "," + r["vlan.id"]).split(",") if v]
    key = {"vlans": vlans, "ether_type": ether_type,
           "ip_version": None, "protocol": None, "src": r["eth.src"], "dst": r["eth.dst"],
           "src_port": None, "dst_port": None}
    fragment = r["ip.flags.mf"] in ("1", "True") or r["ip.frag_offset"] not in ("", "0") or \
        "ipv6.fraghdr" in protocols
    if r["ip.src"]:
        key.update(ip_version=4, protocol=int(first(r["ip.proto"])), src=first(r["ip.src"]), dst=first(r["ip.dst"]))
    elif r["ipv6.src"]:
        upper = {"tcp": 6, "udp": 17, "sctp": 132, "icmpv6": 58}
        proto = next((upper[p] for p in protocols if p in upper), None)
        if proto is None:
            proto = int(first(r["ipv6.fraghdr.nxt"]) or first(r["ipv6.nxt"]))
        key.update(ip_version=6, protocol=proto, src=first(r["ipv6.src"]), dst=first(r["ipv6.dst"]))
    for proto in ("tcp", "udp", "sctp"):
        if r[f"{proto}.srcport"] and r[f"{proto}.dstport"]:
            key.update(src_port=int(first(r[f"{proto}.srcport"])), dst_port=int(first(r[f"{proto}.dstport"])))
    ext = any(p in protocols for p in ("ipv6.hopopts", "ipv6.routing", "ipv6.fraghdr", "ipv6.dstopts"))
    return {"key": key, "ns": time_ns(r["frame.time_epoch"]), "len": int(r["frame.len"]), "fragment": fragment,
            "ip6_ext": ext}


def record_offsets(path):
    """[(offset, end)] of every record, walking the pcap's own headers."""
    with open(path, "rb") as f:
        data = f.read()
    out, at = [], 24
    while at < len(data):
        caplen = struct.unpack_from("=I", data, at + 8)[0]
        out.append((at, at + 16 + caplen))
        at += 16 + caplen
    return out


def read_index(pcap):
    with gzip.open(pcap + SUFFIX, "rt") as f:
        text = f.read()
    assert text.endswith("\n"), "every line ends with a newline"
    lines = []
    for line in text.splitlines():
        obj = json.loads(line)
        assert list(obj.keys()) == KEYS, f"keys out of the documented order: {list(obj.keys())}"
        lines.append(obj)
    return lines


def key_of(obj):
    return json.dumps([obj[k] for k in FLOW_KEY])


def check_index_against_tshark(pcap, session, vni):
    """Every line of the pcap's index is a flow tshark sees, with its counts, times and offsets."""
    records = tshark_records(pcap)
    offsets = record_offsets(pcap)
    assert len(records) == len(offsets)
    want = {}
    for rec, (start, end) in zip(records, offsets):
        k = json.dumps([rec["key"][x] for x in FLOW_KEY])
        w = want.setdefault(k, {"first_ns": rec["ns"], "last_ns": rec["ns"], "packets": 0, "bytes": 0,
                                "first_offset": start, "end_offset": end, "fragments": False, "ip6_ext": False})
        w["first_ns"] = min(w["first_ns"], rec["ns"])
        w["last_ns"] = max(w["last_ns"], rec["ns"])
        w["packets"] += 1
        w["bytes"] += rec["len"]
        w["first_offset"] = min(w["first_offset"], start)
        w["end_offset"] = max(w["end_offset"], end)
        w["fragments"] |= rec["fragment"]
        w["ip6_ext"] |= rec["ip6_ext"]
    lines = read_index(pcap)
    got = {key_of(obj): obj for obj in lines}
    assert len(got) == len(lines), "a flow is on two lines"
    assert sorted(got) == sorted(want), f"flows differ:\nindex {sorted(got)}\ntshark {sorted(want)}"
    times = [r["ns"] for r in records]
    for k, obj in got.items():
        assert obj["session"] == session and obj["vni"] == vni and obj["collector"] == COLLECTOR_ID
        assert obj["file"] == os.path.basename(pcap)
        assert obj["file_packets"] == len(records) and obj["file_bytes"] == os.path.getsize(pcap)
        assert obj["file_first_ns"] == min(times) and obj["file_last_ns"] == max(times)
        assert obj["index_complete"] is True
        for field, v in want[k].items():
            assert obj[field] == v, f"{k}: {field} {obj[field]} in the index, {v} from tshark"
    check_ranges(pcap, lines)
    return lines


def check_ranges(pcap, lines):
    """Reading [first_offset, end_offset) alone gives every record of the flow: tshark over that
    slice, behind the file's header, finds the flow's packets, starting and ending with them."""
    with open(pcap, "rb") as f:
        data = f.read()
    with tempfile.TemporaryDirectory(prefix="mirrortap-it-slice-") as tmp:
        for obj in lines:
            piece = os.path.join(tmp, "slice.pcap")
            with open(piece, "wb") as f:
                f.write(data[:24] + data[obj["first_offset"]:obj["end_offset"]])
            recs = tshark_records(piece)
            mine = [i for i, r in enumerate(recs) if json.dumps([r["key"][x] for x in FLOW_KEY]) == key_of(obj)]
            assert len(mine) == obj["packets"], f"{key_of(obj)}: {len(mine)} records in its range, not {obj['packets']}"
            assert mine[0] == 0 and mine[-1] == len(recs) - 1, f"{key_of(obj)}: its range starts or ends elsewhere"


def wait_for(predicate, what):
    for _ in range(200):  # bounded: 10 s
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


# ---- tests ------------------------------------------------------------------------

def index_matches_what_tshark_reads():
    with Collector("--collector-id", COLLECTOR_ID) as c:
        frames = mixed_frames()
        c.send([vxlan(501, f) for f in frames])
        c.wait_settled(len(frames))
        c.proc.send_signal(signal.SIGHUP)  # finish the file: its index is written beside it
        wait_for(lambda: len(session_files(c.pcap_dir, "vni-501")) == 1, "the first file")
        c.send([vxlan(501, f) for f in frames[:7]])
        m = c.wait_settled(len(frames) + 7)
        assert c.stop() == 0
        files = session_files(c.pcap_dir, "vni-501")
        assert len(files) == 2, files
        lines = [check_index_against_tshark(f, "vni-501", 501) for f in files]
        # The shapes came out as docs/flow-index.md says.
        by = {(o["src"], o["src_port"]): o for o in lines[0]}
        assert by[("10.0.3.7", 40000)]["vlans"] == [100] and by[("10.0.3.7", 40000)]["packets"] == 3
        assert by[("10.0.9.1", 5432)]["packets"] == 3, "each direction is a line of its own"
        assert by[("10.1.0.1", 1111)]["vlans"] == [10, 20]
        assert by[("2001:db8::7", 40001)]["ip6_ext"] and by[("2001:db8::7", 40001)]["protocol"] == 6
        arp = [o for o in lines[0] if o["ether_type"] == 0x0806]
        assert sorted((o["src"], o["packets"]) for o in arp) == [("02:00:00:00:00:a1", 2), ("02:00:00:00:00:a2", 1)]
        assert all(o["ip_version"] is None and o["protocol"] is None for o in arp)
        frag4 = [o for o in lines[0] if o["src"] == "10.2.0.1"]
        assert sorted((o["src_port"], o["fragments"]) for o in frag4 if o["src_port"]) == [(5000, True)]
        assert [o["src_port"] for o in frag4 if o["src_port"] is None] == [None]
        frag6 = [o for o in lines[0] if o["src"] == "2001:db8::a"]
        assert len(frag6) == 2 and all(o["fragments"] and o["ip6_ext"] for o in frag6)
        assert by[("10.3.0.1", 2905)]["protocol"] == 132
        assert by[("10.4.0.1", None)]["protocol"] == 1
        assert by[("10.5.0.1", 33000)]["bytes"] == 14 + 1500, "bytes are wire lengths"
        assert by[("10.5.0.1", None)]["protocol"] == 6, "cut before its ports: ports null"
        assert by[("02:00:00:00:00:c1", None)]["ether_type"] == 0x0800
        assert by[("02:00:00:00:00:c1", None)]["ip_version"] is None
        # Counted across the reload SIGHUP made (it replaced the pcap sink).
        assert value(m, "mirrortap_pcap_index_files_total") == 1
        assert leftovers(c.pcap_dir) == []


def retention_removes_an_index_with_its_pcap():
    config = "pcap:\n  index_max_flows: 3\n"
    with Collector("--collector-id", COLLECTOR_ID, "--rotate-size", "4096", "--retain-files", "2",
                   config=config) as c:
        # 40 flows, five packets each: many files, more flows in each than the index holds.
        frames = [udp4_frame("10.7.0.1", "10.7.0.2", 1000 + i % 40, 53, payload=b"z" * 100) for i in range(200)]
        c.send([vxlan(9, f) for f in frames])
        m = c.wait_settled(len(frames))
        assert c.stop() == 0
        d = os.path.join(c.pcap_dir, "vni-9")
        names = sorted(os.listdir(d))
        pcaps = [n for n in names if n.endswith(".pcap")]
        assert len(pcaps) == 2, names
        assert names == sorted(pcaps + [p + SUFFIX for p in pcaps]), f"an index without its pcap, or none: {names}"
        for p in pcaps:
            lines = read_index(os.path.join(d, p))
            assert len(lines) == 3 and all(o["index_complete"] is False for o in lines)
            assert lines[0]["file_packets"] == len(tshark_records(os.path.join(d, p)))
        rotated = value(m, "mirrortap_pcap_files_rotated_total")
        assert rotated >= 5


def a_failed_index_is_counted_and_the_pcap_kept():
    with Collector("--collector-id", COLLECTOR_ID) as c:
        c.send([vxlan(12, udp4_frame()) for _ in range(5)])
        c.wait_settled(5)
        d = os.path.join(c.pcap_dir, "vni-12")
        part = os.readlink(os.path.join(d, "current"))
        assert part.endswith(".pcap.part")
        pcap = part[:-len(".part")]
        # A directory where the index's .part goes: the index cannot be written.
        os.mkdir(os.path.join(d, pcap + SUFFIX + ".part"))
        c.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: value(c.metrics(), "mirrortap_pcap_index_failures_total") == 1, "a counted failure")
        m = c.metrics()
        assert value(m, "mirrortap_pcap_index_files_total") == 0
        assert value(m, "mirrortap_sink_written_packets_total", sink="pcap") == 5
        check_identities(m)
        assert os.path.isfile(os.path.join(d, pcap)), "the pcap is kept"
        assert not os.path.exists(os.path.join(d, pcap + SUFFIX))
        assert c.http_status("/healthz") == 200, "a missing index is no reason to stop capturing"
        assert c.stop() == 0
        os.rmdir(os.path.join(d, pcap + SUFFIX + ".part"))


def flow_index_can_be_turned_off():
    with Collector(config="pcap:\n  flow_index: false\n") as c:
        c.send([vxlan(13, udp4_frame()) for _ in range(3)])
        c.wait_settled(3)
        assert c.stop() == 0
        d = os.path.join(c.pcap_dir, "vni-13")
        assert [n for n in os.listdir(d) if n.endswith(SUFFIX)] == []
        assert len(session_files(c.pcap_dir, "vni-13")) == 1


# ---- SQL: the table of docs/flow-index.md on DuckDB ----------------------------------

def duckdb_table_sql(root):
    """The DuckDB CREATE VIEW of docs/flow-index.md, with ROOT replaced: the test runs the text
    the documentation shows, not a copy of it."""
    doc = open(os.path.join(os.path.dirname(__file__), "../../docs/flow-index.md")).read()
    section = doc[doc.index("## DuckDB"):]
    sql = re.search(r"```sql\n(.*?)```", section, re.S).group(1)
    return sql.replace("ROOT", root)


def file_start(name):
    """date and hour of a capture from its name: <session>-<YYYYmmddTHHMMSSZ>-<seq>.pcap."""
    stamp = re.search(r"-(\d{8})T(\d{2})\d{4}Z-\d{6}\.pcap$", name)
    d = stamp.group(1)
    return f"{d[:4]}-{d[4:6]}-{d[6:]}", stamp.group(2)


def lay_out_as_s3(pcap_dirs, root):
    """Index files copied as the uploader names them: ROOT/flows/session=/date=/hour=/collector=/."""
    for collector, pcap_dir in pcap_dirs.items():
        for session in os.listdir(pcap_dir):
            for name in os.listdir(os.path.join(pcap_dir, session)):
                if not name.endswith(SUFFIX):
                    continue
                date, hour = file_start(name[:-len(SUFFIX)])
                to = os.path.join(root, "flows", f"session={session}", f"date={date}", f"hour={hour}",
                                  f"collector={collector}")
                os.makedirs(to, exist_ok=True)
                shutil.copy(os.path.join(pcap_dir, session, name), to)


def sql_over_two_collectors_finds_the_right_flows():
    # Where ./dev test installs it: $BUILD/npm/duckdb, beside this build's bin/ unless said otherwise.
    modules = os.environ.get("MIRRORTAP_DUCKDB_NODE_MODULES") or os.path.join(BIN, "..", "npm", "duckdb",
                                                                                "node_modules")
    if not os.path.isdir(os.path.join(modules, "@duckdb", "node-api")):
        print("SKIP: @duckdb/node-api not installed (./dev test installs it into $BUILD/npm/duckdb)")
        sys.exit(SKIP)
    # Two collectors, each seeing one direction of the same connections, as behind an NLB.
    dirs = {}
    with Collector("--collector-id", "i-0aaa") as a, Collector("--collector-id", "i-0bbb") as b:
        there = [tcp4_frame("10.0.3.7", "10.0.9.1", 40000 + i % 3, 5432, payload=b"q" * (10 * (i % 3 + 1)))
                 for i in range(30)]
        back = [tcp4_frame("10.0.9.1", "10.0.3.7", 5432, 40000 + i % 3, payload=b"a" * 500) for i in range(30)]
        other = [udp4_frame("10.8.0.1", "10.8.0.2", 1000, 53)] * 4
        a.send([vxlan(501, f) for f in there + other])
        b.send([vxlan(501, f) for f in back])
        a.wait_settled(len(there) + len(other))
        b.wait_settled(len(back))
        assert a.stop() == 0 and b.stop() == 0
        dirs = {"i-0aaa": a.pcap_dir, "i-0bbb": b.pcap_dir}
        with tempfile.TemporaryDirectory(prefix="mirrortap-it-s3-") as root:
            lay_out_as_s3(dirs, os.path.join(root, "captures"))
            statements = [
                duckdb_table_sql(os.path.join(root, "captures")),
                # Top talkers, across both collectors.
                "SELECT src, dst, sum(bytes)::BIGINT AS bytes, sum(packets)::BIGINT AS packets FROM mirrortap_flows "
                "WHERE session = 'vni-501' GROUP BY src, dst ORDER BY bytes DESC",
                # One flow by address and port, both directions, with the files and ranges that hold it.
                "SELECT collector, file, src, dst, src_port, dst_port, packets, first_offset, end_offset "
                "FROM mirrortap_flows WHERE (src = '10.0.3.7' AND src_port = 40001) "
                "OR (dst = '10.0.3.7' AND dst_port = 40001) ORDER BY collector",
                "SELECT count(*)::BIGINT AS n, bool_and(index_complete) AS complete, min(vlans::VARCHAR) AS vlans, "
                "count(DISTINCT date)::BIGINT AS dates FROM mirrortap_flows",
            ]
            out = subprocess.run(["node", os.path.join(os.path.dirname(__file__), "flow_index_sql.cjs"), modules],
                                 input=json.dumps(statements), capture_output=True, text=True, timeout=120)
            assert out.returncode == 0, f"duckdb: {out.stderr}"
            results = [json.loads(line) for line in out.stdout.splitlines()]
        talkers, flow, totals = results[1], results[2], results[3]
        frame_len = lambda f: len(f)  # noqa: E731  (no truncation here: wire length = frame length)
        assert [(t["src"], t["dst"]) for t in talkers] == [("10.0.9.1", "10.0.3.7"), ("10.0.3.7", "10.0.9.1"),
                                                          ("10.8.0.1", "10.8.0.2")]
        assert int(talkers[0]["bytes"]) == sum(map(frame_len, back))
        assert int(talkers[1]["bytes"]) == sum(map(frame_len, there))
        assert int(talkers[1]["packets"]) == 30 and int(talkers[2]["packets"]) == 4
        assert [(r["collector"], r["src_port"], r["dst_port"], int(r["packets"])) for r in flow] == \
            [("i-0aaa", 40001, 5432, 10), ("i-0bbb", 5432, 40001, 10)]
        assert all(r["file"].startswith("vni-501-") for r in flow)
        assert int(totals[0]["n"]) == 3 + 3 + 1 and totals[0]["complete"] is True
        assert totals[0]["vlans"] == "[]"


if __name__ == "__main__":
    run({f.__name__: f for f in (index_matches_what_tshark_reads, retention_removes_an_index_with_its_pcap,
                                 a_failed_index_is_counted_and_the_pcap_kept, flow_index_can_be_turned_off,
                                 sql_over_two_collectors_finds_the_right_flows)})
