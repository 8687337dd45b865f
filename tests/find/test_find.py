"""mirrortap-find against real collectors on loopback: two collectors get the
two directions of the same flows, write their own pcap directories, and
mirrortap-find over both (and over s3rver, where the files are copied under
the S3 key layout with the aws CLI) must return exactly the packets that
tcpdump -r with the same expression finds in mergecap of every file, in time
order. Flow indexes are written beside finished pcaps by flow_index.py (the
format's own writer in Python) until the collector writes them."""
import atexit
import datetime
import gzip
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import urllib.parse
import time
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "../integration"))
sys.path.insert(0, os.path.join(HERE, "../cloud"))
sys.path.insert(0, HERE)

import flow_index  # noqa: E402
from harness import BIN, Collector, ethernet, ipv4, session_files, udp, vxlan  # noqa: E402

FIND = os.path.join(BIN, "mirrortap-find")
SESSIONS_CONFIG = "sessions: [{vni: 501, name: web}, {vni: 502, name: db}]\n"


# ---- frames ---------------------------------------------------------------

def tcp(sport, dport, seq, flags, payload):
    return struct.pack("!HHIIBBHHH", sport, dport, seq, 0, 5 << 4, flags, 65535, 0, 0) + payload


def tcp4_frame(src, dst, sport, dport, seq, payload, flags=0x18, vlans=()):
    l4 = tcp(sport, dport, seq, flags, payload)
    return ethernet(0x0800, vlans) + ipv4(6, src, dst, len(l4)) + l4


def udp4_frame(src, dst, sport, dport, payload, vlans=()):
    l4 = udp(sport, dport, payload)
    return ethernet(0x0800, vlans) + ipv4(17, src, dst, len(l4)) + l4


def udp6_frame(src, dst, sport, dport, payload):
    l4 = udp(sport, dport, payload)
    ip = struct.pack("!IHBB", 0x60000000, len(l4), 17, 64) + socket.inet_pton(socket.AF_INET6, src) + \
        socket.inet_pton(socket.AF_INET6, dst)
    return ethernet(0x86DD) + ip + l4


def icmp4_frame(src, dst, seq):
    icmp = struct.pack("!BBHHH", 8, 0, 0, 1, seq) + b"p" * 32
    return ethernet(0x0800) + ipv4(1, src, dst, len(icmp)) + icmp


def arp_frame(seq):
    body = struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + bytes(6) + socket.inet_aton("10.0.3.1") + bytes(6) + \
        socket.inet_aton(f"10.0.3.{100 + seq % 50}")
    return ethernet(0x0806, dst=0xFF, src=0xAA) + body


def conversations(rnd, pad=0):
    """(vni, forward frame, reverse frame) of every flow for round `rnd`: the payload carries the round;
    `pad` bytes more in each TCP payload."""
    tag = struct.pack("!I", rnd) + b"P" * pad
    out = []
    for i in range(1, 7):
        client = f"10.0.3.{i}"
        out.append((501, tcp4_frame(client, "10.0.9.2", 40000 + i, 443, rnd, tag + b"q" * (40 + i)),
                    tcp4_frame("10.0.9.2", client, 443, 40000 + i, rnd, tag + b"r" * (200 + i))))
        out.append((502, tcp4_frame(client, "10.0.9.1", 41000 + i, 5432, rnd, tag + b"s" * 30),
                    tcp4_frame("10.0.9.1", client, 5432, 41000 + i, rnd, tag + b"t" * 120)))
    for i in range(1, 4):
        out.append((501, udp6_frame(f"2001:db8::{i}", "2001:db8::53", 5000 + i, 53, tag + b"dns?"),
                    udp6_frame("2001:db8::53", f"2001:db8::{i}", 53, 5000 + i, tag + b"dns!" * 10)))
    out.append((502, udp4_frame("10.1.0.1", "10.1.0.2", 9000, 9001, tag + b"v" * 60, vlans=[(0x8100, 100)]),
                udp4_frame("10.1.0.2", "10.1.0.1", 9001, 9000, tag + b"w" * 60, vlans=[(0x8100, 100)])))
    out.append((502, icmp4_frame("10.0.3.1", "10.0.9.1", rnd), icmp4_frame("10.0.9.1", "10.0.3.1", rnd)))
    out.append((501, arp_frame(rnd), arp_frame(rnd + 1000)))
    # A SYN now and then: flags the index cannot see.
    if rnd % 5 == 0:
        out.append((501, tcp4_frame("10.0.3.9", "10.0.9.2", 42000 + rnd, 443, rnd, b"", flags=0x02),
                    tcp4_frame("10.0.9.2", "10.0.3.9", 443, 42000 + rnd, rnd, b"", flags=0x12)))
    return out


def scratch(prefix="mirrortap-find-"):
    """A directory of this test's own, removed when the test ends."""
    path = tempfile.mkdtemp(prefix=prefix)
    atexit.register(shutil.rmtree, path, True)
    return path


def rfc3339(ns):
    t = datetime.datetime.fromtimestamp(ns // 1_000_000_000, datetime.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S") + f".{ns % 1_000_000_000:09d}Z"


class Fleet:
    """Two collectors on loopback, the forward direction of every flow to the
    first and the reverse to the second; finished files indexed beside them."""

    def __init__(self, rounds=30, rotate="16K", pad=0, min_files=2):
        self.collectors = [Collector("--rotate-size", rotate, "--collector-id", f"collector-{i}", config=SESSIONS_CONFIG)
                           for i in range(2)]
        self.marks = []
        sent = [0, 0]
        for rnd in range(rounds):
            if rnd in (rounds // 3, 2 * rounds // 3):
                time.sleep(0.05)
                self.marks.append(time.time_ns())
                time.sleep(0.05)
            fwd, rev = [], []
            for vni, a, b in conversations(rnd, pad):
                fwd.append(vxlan(vni, a))
                rev.append(vxlan(vni, b))
            self.collectors[0].send(fwd)
            self.collectors[1].send(rev)
            sent[0] += len(fwd)
            sent[1] += len(rev)
            time.sleep(0.01)
        for c, n in zip(self.collectors, sent):
            c.wait_settled(n)
            assert c.stop() == 0, c.read_stderr()
        self.dirs = [c.pcap_dir for c in self.collectors]
        self.tmp = scratch()
        for i, d in enumerate(self.dirs):
            for s in ("web", "db"):
                files = session_files(d, s)
                assert len(files) >= min_files, f"{d}/{s}: expected {min_files}+ files, got {files}"
                for f in files:
                    # The collector's own index when it wrote one; the format's Python writer otherwise.
                    if not os.path.exists(f + ".flows.json.gz"):
                        flow_index.write_index(f, s, f"collector-{i}")

    def files(self, sessions=("web", "db")):
        return [f for d in self.dirs for s in sessions for f in session_files(d, s)]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for c in self.collectors:
            c.__exit__(*exc)


# ---- reading pcaps back ------------------------------------------------------

def pcap_records(path):
    return [(ts, wire, bytes(data)) for _, ts, _, wire, data in flow_index.records(path)]


def expected(fleet, expression, sessions=("web", "db"), since=None, until=None):
    """tcpdump -r over mergecap of every file of the sessions, then the time window."""
    merged = os.path.join(fleet.tmp, "all.pcap")
    subprocess.run(["mergecap", "-F", "nsecpcap", "-w", merged] + fleet.files(sessions), check=True, timeout=60)
    chosen = os.path.join(fleet.tmp, "tcpdump.pcap")
    out = subprocess.run(["tcpdump", "--time-stamp-precision=nano", "-r", merged, "-w", chosen] +
                         ([expression] if expression else []), capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    recs = pcap_records(chosen)
    return [r for r in recs if (since is None or r[0] >= since) and (until is None or r[0] <= until)]


def run_find(*args, check=True, env=None, timeout=120):
    out = subprocess.run([FIND] + list(args), capture_output=True, timeout=timeout, env=env)
    if check:
        assert out.returncode == 0, f"mirrortap-find {args}: exit {out.returncode}: {out.stderr.decode()}"
    return out


def check_query(fleet, sources, expression, sessions=None, since=None, until=None, env=None, extra=()):
    args = list(extra)
    for s in sources:
        args += ["--from", s]
    for s in sessions or []:
        args += ["--session", s]
    if since is not None:
        args += ["--since", rfc3339(since)]
    if until is not None:
        args += ["--until", rfc3339(until)]
    out_path = os.path.join(fleet.tmp, "find.pcap")
    result = run_find(*args, "-w", out_path, *([expression] if expression else []), env=env)
    got = pcap_records(out_path)
    want = expected(fleet, expression, sessions or ("web", "db"), since, until)
    assert len(want) > 0 or expression == "host 10.99.99.99", f"query {expression!r} chosen to match nothing"
    assert sorted(got) == sorted(want), \
        f"{expression!r} {sessions} {since} {until}: got {len(got)} packets, tcpdump says {len(want)}\n" + \
        result.stderr.decode()
    stamps = [ts for ts, _, _ in got]
    assert stamps == sorted(stamps), f"{expression!r}: packets out of time order"
    # tshark reads the output as the nanosecond pcap it says it is.
    t = subprocess.run(["tshark", "-r", out_path, "-T", "fields", "-e", "frame.time_epoch"],
                       capture_output=True, text=True, timeout=60)
    assert t.returncode == 0 and len(t.stdout.split()) == len(got), t.stderr
    return result.stderr.decode(), got


EXPRESSIONS = [
    "host 10.0.3.2", "net 10.0.3.0/24", "port 5432", "tcp port 443 and host 10.0.3.4", "udp", "icmp",
    "ip6 and udp port 53", "host 2001:db8::2", "vlan 100 and udp", "arp", "tcp[tcpflags] & tcp-syn != 0",
    "src host 10.0.9.2 and greater 250", "not tcp", "(port 443 or port 5432) and host 10.0.3.1", "",
    "host 10.99.99.99",
]


# ---- tests --------------------------------------------------------------------

def queries_over_two_collectors_match_tcpdump():
    with Fleet() as fleet:
        for expression in EXPRESSIONS:
            check_query(fleet, fleet.dirs, expression)
        check_query(fleet, fleet.dirs, "port 5432", sessions=["db"])
        check_query(fleet, fleet.dirs, "host 10.0.3.3", sessions=["web"])
        check_query(fleet, fleet.dirs, "tcp", sessions=["web", "db"])
        a, b = fleet.marks
        check_query(fleet, fleet.dirs, "host 10.0.3.5", since=a)
        check_query(fleet, fleet.dirs, "host 10.0.3.5", until=a)
        check_query(fleet, fleet.dirs, "port 443", since=a, until=b)
        check_query(fleet, fleet.dirs, "", sessions=["db"], since=a, until=b)
        # Relative times: the last day holds everything, before a day ago nothing.
        path = os.path.join(fleet.tmp, "relative.pcap")
        run_find("--from", fleet.dirs[0], "--from", fleet.dirs[1], "--since", "-1d", "-w", path, "udp")
        assert sorted(pcap_records(path)) == sorted(expected(fleet, "udp"))
        run_find("--from", fleet.dirs[0], "--from", fleet.dirs[1], "--until", "-1d", "-w", path)
        assert pcap_records(path) == []
        # Both directions of a connection come back together from two collectors.
        _, got = check_query(fleet, fleet.dirs, "host 10.0.3.6 and port 443")
        srcs = {data[26:30] for _, _, data in got}
        assert len(srcs) == 2, "both directions expected"


def fleet_in_s3(fleet, s3):
    """The fleet's captures uploaded to s3rver: both collectors' under fleet/a, the second's also under
    fleet/b. Returns the environment with s3rver's credentials (the aws CLI's, without an endpoint)."""
    from servers import S3RVER_KEY, S3RVER_SECRET
    env = dict(os.environ, AWS_ACCESS_KEY_ID=S3RVER_KEY, AWS_SECRET_ACCESS_KEY=S3RVER_SECRET,
               AWS_REGION="us-east-1", AWS_EC2_METADATA_DISABLED="true")
    for i, d in enumerate(fleet.dirs):
        upload_dir(s3, env, d, f"collector-{i}", "fleet/a")
    upload_dir(s3, env, fleet.dirs[1], "collector-1", "fleet/b")
    return env


def s3_queries_match_tcpdump():
    from servers import BUCKET, S3rver
    with Fleet() as fleet, S3rver() as s3:
        env = fleet_in_s3(fleet, s3)
        source = f"s3://{BUCKET}/fleet/a"
        env_find = dict(env, AWS_ENDPOINT_URL_S3=s3.endpoint)
        for expression in ["host 10.0.3.2", "port 5432 and host 10.0.3.1", "udp", "not tcp", "vlan 100"]:
            check_query(fleet, [source], expression, env=env_find)
        a, b = fleet.marks
        check_query(fleet, [source], "port 443", sessions=["web"], since=a, until=b, env=env_find)
        # One collector's directory and the other's uploads, side by side.
        log, _ = check_query(fleet, [fleet.dirs[0], f"s3://{BUCKET}/fleet/b"], "host 10.0.3.3", env=env_find)
        assert f"s3://{BUCKET}/fleet/b:" in log and f"{fleet.dirs[0]}:" in log, log
        # Captures uploaded without their indexes: read whole, and said so.
        upload_dir(s3, env, fleet.dirs[1], "collector-1", "fleet/c", indexes=False)
        log, _ = check_query(fleet, [fleet.dirs[0], f"s3://{BUCKET}/fleet/c"], "port 5432", env=env_find)
        assert f"s3://{BUCKET}/fleet/c/pcap/session=db/" in log and "no flow index: reading the whole pcap" in log, log
        out = run_find("--from", source, "--session", "nope", "-w", os.path.join(fleet.tmp, "o.pcap"), check=False,
                       env=env_find)
        assert out.returncode == 1 and b"unknown session 'nope' (sessions: db, web)" in out.stderr, out.stderr


def s3_listings_stay_in_the_window():
    """Without --session, a bounded window finds each tree's sessions by skipping past them (start-after
    "session=NAME0"), then lists only the window's dates of each; a capture filed under another date is
    never listed, and the answer is tcpdump's. A session of more than a page of keys costs one page."""
    from servers import BUCKET, RecordingProxy, S3rver
    with Fleet() as fleet, S3rver() as s3, RecordingProxy(s3.port) as proxy:
        env = fleet_in_s3(fleet, s3)
        # A session years before the window, of 1,001 captures (a page and one): listing it whole would cost
        # two pages, and its date must never be listed for the window.
        bulk = scratch()
        part = "session=archive/date=2001-01-01/hour=00/collector=collector-0"
        os.makedirs(os.path.join(bulk, "pcap", part))
        for i in range(1001):
            write_pcap(os.path.join(bulk, "pcap", part, f"archive-20010101T000000Z-{i:06d}.pcap"),
                       [(978307200 * 10**9 + i, b"\0" * 60)])
        out = subprocess.run(["aws", "s3", "cp", "--recursive", "--only-show-errors", "--endpoint-url", s3.endpoint,
                              bulk, f"s3://{BUCKET}/fleet/a/"], capture_output=True, text=True, env=env, timeout=300)
        assert out.returncode == 0, out.stderr
        env_find = dict(env, AWS_ENDPOINT_URL_S3=proxy.endpoint)
        source = f"s3://{BUCKET}/fleet/a"
        a, b = fleet.marks[0], fleet.marks[-1]
        check_query(fleet, [source], "tcp", since=a, until=b, env=env_find)
        lists = proxy.matching("GET", {"list-type": "2"})
        for r in lists:
            prefix = r.query.get("prefix", "")
            assert prefix.endswith("/session=") or "/date=" in prefix, f"listed beyond the window: {r.path}"
            assert "date=2001" not in prefix, f"the old capture's date was listed: {r.path}"
        # The pcap tree's sessions: a page of archive's keys, then past them to db and web, then the end.
        skips = [r.query.get("start-after") for r in lists if r.query.get("prefix") == "fleet/a/pcap/session="]
        assert skips == [None, "fleet/a/pcap/session=archive0"], skips
        # Every session still named by an unknown one.
        out = run_find("--from", source, "--session", "nope", "-w", os.path.join(fleet.tmp, "o.pcap"), check=False,
                       env=env_find)
        assert out.returncode == 1 and b"unknown session 'nope' (sessions: archive, db, web)" in out.stderr, out.stderr
        # Without a window nothing narrows: the whole tree is listed, and the old captures are found.
        run_find("--from", source, "--session", "archive", "-w", os.path.join(fleet.tmp, "all.pcap"), env=env_find)
        assert len(pcap_records(os.path.join(fleet.tmp, "all.pcap"))) == 1001


def upload_dir(s3, env, pcap_dir, collector, prefix, indexes=True):
    """Every finished pcap (and index, unless told not to) under PREFIX/{pcap,flows}/session=/date=/hour=/collector=/, laid out
    in a staging tree (hard links) and sent with one aws s3 cp --recursive."""
    staging = scratch("mirrortap-find-s3-")
    for session in os.listdir(pcap_dir):
        for path in session_files(pcap_dir, session):
            name = os.path.basename(path)
            stamp = name[len(session) + 1:].split("-")[0]
            part = f"session={session}/date={stamp[0:4]}-{stamp[4:6]}-{stamp[6:8]}/hour={stamp[9:11]}/" \
                   f"collector={collector}"
            for tree, local in (("pcap", path), ("flows", path + ".flows.json.gz")):
                if os.path.exists(local) and (indexes or tree == "pcap"):
                    os.makedirs(os.path.join(staging, tree, part), exist_ok=True)
                    os.link(local, os.path.join(staging, tree, part, os.path.basename(local)))
    out = subprocess.run(["aws", "s3", "cp", "--recursive", "--only-show-errors", "--endpoint-url", s3.endpoint,
                          staging, f"s3://{s3_bucket()}/{prefix}/"], capture_output=True, text=True, env=env,
                         timeout=120)
    assert out.returncode == 0, out.stderr


def s3_bucket():
    from servers import BUCKET
    return BUCKET


def single_flow_reads_a_small_fraction():
    """One short connection (a SYN and its answer, in round 30 of 60) among long ones: the bytes read
    are reported (no threshold on them: they depend on how the collector cut its files), and must be
    less than what is stored, the packets exactly tcpdump's."""
    with Fleet(rounds=60, rotate="32K") as fleet:
        log, got = check_query(fleet, fleet.dirs, "host 10.0.3.9 and port 42030")
        line = [ln for ln in log.splitlines() if "pcap bytes" in ln][-1]
        words = line.split()
        read, stored = int(words[2]), int(words[4])
        print(f"single flow: {line}")
        assert read < stored, line
        assert len(got) == 2  # one packet each way, from two collectors


def large_files_are_read_across_chunks():
    """Files larger than a read chunk: records straddle the 1 MiB read chunks, with and without an index."""
    with Fleet(rounds=150, rotate="64M", pad=1300, min_files=1) as fleet:
        sizes = [os.path.getsize(f) for f in fleet.files()]
        assert min(sizes) > 1 << 20, sizes  # larger than a local read chunk
        for expression in ["host 10.0.3.2", "port 443", ""]:
            check_query(fleet, fleet.dirs, expression)
        for f in fleet.files():
            os.unlink(f + ".flows.json.gz")
        log, _ = check_query(fleet, fleet.dirs, "port 5432 and host 10.0.3.6")
        assert "no flow index: reading the whole pcap" in log


def corrupt_and_missing_index_fall_back():
    with Fleet() as fleet:
        files = fleet.files(("web",))
        with open(files[0] + ".flows.json.gz", "wb") as f:
            f.write(b"\x1f\x8b this is not a gzip stream")
        os.unlink(files[1] + ".flows.json.gz")
        # An index of another size: stale.
        with open(files[2] + ".flows.json.gz", "wb") as f:
            f.write(gzip.compress(b"\n".join(ln.encode() for ln in flow_index.index_lines(files[3], "web", "x"))))
        # An index that hit its flow cap: the file is read whole.
        with gzip.open(files[4] + ".flows.json.gz", "wt") as f:
            for ln in flow_index.index_lines(files[4], "web", "x"):
                f.write(ln.replace('"index_complete":true', '"index_complete":false') + "\n")
        # A corrupt or stale index is a shortfall of the store: said, and exit 1 unless --partial-ok.
        out = run_find("--from", fleet.dirs[0], "--from", fleet.dirs[1], "-w", os.path.join(fleet.tmp, "o.pcap"),
                       "host 10.0.3.2", check=False)
        assert out.returncode == 1 and b"2 problems above: the answer may be incomplete" in out.stderr, out.stderr
        log, _ = check_query(fleet, fleet.dirs, "host 10.0.3.2", extra=["--partial-ok"])
        assert "warning: 2 problems above" in log, log
        assert f"{files[4]}: flow index incomplete" in log, log
        assert f"{files[0]}: flow index corrupt" in log and "reading the whole pcap" in log, log
        assert f"{files[1]}: no flow index: reading the whole pcap" in log, log
        assert f"{files[2]}: flow index corrupt" in log, log


def bad_input_gives_clear_errors():
    tmp = scratch()
    os.makedirs(os.path.join(tmp, "web"))
    os.makedirs(os.path.join(tmp, "db"))
    cases = [
        (["--from", tmp, "tcp port"], 2, "libpcap refuses the expression 'tcp port'"),
        (["--from", tmp, "--session", "nope", "tcp"], 1, "unknown session 'nope' (sessions: db, web)"),
        (["--from", "s3://mirrortap-test/x", "--s3-endpoint", f"http://127.0.0.1:{closed_port()}", "tcp"], 1,
         "cannot list s3://mirrortap-test/x"),
        (["--from", os.path.join(tmp, "missing")], 1, "cannot list"),
        (["--from", tmp, "--since", "yesterday"], 2, "bad --since: expected an RFC 3339 time such as 2026-12-01T10:02:00Z, got 'yesterday'"),
        (["--from", tmp, "--frobnicate"], 2, "unknown option '--frobnicate'"),
        (["--from", "s3://Bad_Bucket/x"], 2, "Bad_Bucket"),
    ]
    env = dict(os.environ, AWS_ACCESS_KEY_ID="k", AWS_SECRET_ACCESS_KEY="s", AWS_EC2_METADATA_DISABLED="true")
    for args, code, message in cases:
        out = run_find(*args, "-w", os.path.join(tmp, "out.pcap"), check=False, env=env)
        err = out.stderr.decode()
        assert out.returncode == code, f"{args}: exit {out.returncode}, expected {code}: {err}"
        assert message in err, f"{args}: {message!r} not in {err!r}"
        assert len(err.strip().splitlines()) <= 3, f"{args}: more than a clear line or two: {err}"
    # A session that exists but holds no finished file yet is an empty answer, not an error.
    out = run_find("--from", tmp, "--session", "web", "-w", os.path.join(tmp, "out.pcap"), check=False)
    assert out.returncode == 0, out.stderr
    assert pcap_records(os.path.join(tmp, "out.pcap")) == []


def a_plain_http_store_elsewhere_is_refused():
    """A plain http:// store on another host (--s3-endpoint, AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL)
    would carry signed requests and captures in clear: refused before anything is sent, unless
    --allow-insecure-endpoint, which says so (run in a network namespace of its own, where the
    store cannot be reached, so that nothing leaves the machine)."""
    tmp = scratch()
    env = dict(os.environ, AWS_ACCESS_KEY_ID="k", AWS_SECRET_ACCESS_KEY="s", AWS_EC2_METADATA_DISABLED="true")
    env.pop("AWS_ENDPOINT_URL_S3", None)
    env.pop("AWS_ENDPOINT_URL", None)
    out_pcap = os.path.join(tmp, "out.pcap")
    refused = [
        (["--s3-endpoint", "http://192.0.2.10:9000"], {}, "http://192.0.2.10:9000"),
        ([], {"AWS_ENDPOINT_URL_S3": "http://[2001:db8::5]"}, "http://[2001:db8::5]"),
        ([], {"AWS_ENDPOINT_URL": "http://store.example"}, "http://store.example"),
    ]
    for args, extra, url in refused:
        out = run_find("--from", "s3://mirrortap-test/x", *args, "-w", out_pcap, "tcp", check=False,
                       env=dict(env, **extra))
        err = out.stderr.decode()
        assert out.returncode == 2, (args, extra, out.returncode, err)
        assert f"endpoint {url}: plain http:// to another host" in err and "--allow-insecure-endpoint" in err, err
    out = subprocess.run(["unshare", "-n", FIND, "--from", "s3://mirrortap-test/x", "--s3-endpoint",
                          "http://192.0.2.10:9000", "--allow-insecure-endpoint", "-w", out_pcap, "tcp"],
                         capture_output=True, timeout=120, env=env)
    err = out.stderr.decode()
    assert "warning: --allow-insecure-endpoint: http://192.0.2.10:9000 is plain http://" in err, err
    assert out.returncode == 1 and "cannot list s3://mirrortap-test/x" in err, (out.returncode, err)


def a_terminal_gets_a_progress_bar_and_never_a_pcap():
    """Under script(1) standard output and error are a terminal."""
    with Fleet(rounds=10, min_files=1) as fleet:
        out = subprocess.run(["script", "-qec", f"{FIND} --from {fleet.dirs[0]} tcp", "/dev/null"],
                             capture_output=True, timeout=60)
        assert out.returncode == 2, out
        assert b"refusing to write a pcap to a terminal" in out.stdout, out.stdout
        assert b"\xa1\xb2\x3c\x4d"[::-1] not in out.stdout
        path = os.path.join(fleet.tmp, "tty.pcap")
        out = subprocess.run(["script", "-qec", f"{FIND} --from {fleet.dirs[0]} --from {fleet.dirs[1]} -w {path} tcp",
                              "/dev/null"], capture_output=True, timeout=60)
        assert out.returncode == 0, out.stdout
        assert b"] 100% " in out.stdout, out.stdout  # the bar, finished
        assert len(pcap_records(path)) == len(expected(fleet, "tcp"))


def links_are_not_followed():
    """A session directory or a capture that is a symlink is not read (the collector's user owns these
    directories; mirrortap-find may run as root)."""
    with Fleet(rounds=10, min_files=1) as fleet:
        d = fleet.dirs[0]
        elsewhere = scratch()
        shutil.copytree(os.path.join(d, "web"), os.path.join(elsewhere, "web"))
        os.symlink(os.path.join(elsewhere, "web"), os.path.join(d, "linked"))
        planted = os.path.join(d, "db", "db-20990101T000000Z-000001.pcap")
        os.symlink(session_files(d, "web")[0], planted)
        out = run_find("--from", d, "--session", "linked", "-w", os.path.join(fleet.tmp, "o.pcap"), check=False)
        assert out.returncode == 1 and b"unknown session 'linked' (sessions: db, web)" in out.stderr, out.stderr
        out = run_find("--from", d, "--session", "db", "-w", os.path.join(fleet.tmp, "o.pcap"))
        assert planted.encode() not in out.stderr, out.stderr
        os.unlink(planted)
        os.unlink(os.path.join(d, "linked"))
        check_query(fleet, fleet.dirs, "", sessions=["db"])


def closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def follow_across_rotations_loses_and_repeats_nothing():
    expression = "tcp or arp"
    collector = Collector("--rotate-size", "4K", config=SESSIONS_CONFIG)
    with collector:
        out_path = os.path.join(collector.tmp, "follow.pcap")
        err_path = os.path.join(collector.tmp, "follow.err")
        with open(out_path, "wb") as out, open(err_path, "w") as err:
            find = subprocess.Popen([FIND, "--follow", "--from", collector.pcap_dir, "--session", "web", expression],
                                    stdout=out, stderr=err)
        try:
            sent = 0
            for rnd in range(40):
                batch = [vxlan(vni, f) for vni, a, b in conversations(rnd) for f in (a, b)]
                collector.send(batch)
                sent += len(batch)
                time.sleep(0.05)
            collector.wait_settled(sent)
            assert collector.stop() == 0
            # Every file is finished now (SIGTERM): what they hold, filtered by tcpdump, in file order.
            final = session_files(collector.pcap_dir, "web")
            want = []
            for f in final:
                chosen = f + ".tcpdump"
                subprocess.run(["tcpdump", "--time-stamp-precision=nano", "-r", f, "-w", chosen, expression],
                               capture_output=True, check=True, timeout=60)
                want += pcap_records(chosen)
            for _ in range(200):  # bounded: 10 s for the follower (50 ms polls) to drain the last file
                if len(pcap_records(out_path)) >= len(want):
                    break
                time.sleep(0.05)
        finally:
            find.send_signal(signal.SIGINT)
            rc = find.wait(timeout=10)
        with open(err_path) as f:
            log = f.read()
        assert rc == 0, log
        assert len(final) >= 4, f"expected at least three rotations, got {final}"
        got = pcap_records(out_path)
        assert 0 < len(want) < sum(len(pcap_records(f)) for f in final), "the expression should choose some"
        assert got == want, f"follow: {len(got)} packets, the finished files hold {len(want)}\n{log}"


def follow_ends_cleanly_when_the_reader_goes():
    collector = Collector("--rotate-size", "4K", config=SESSIONS_CONFIG)
    with collector:
        collector.send([vxlan(501, a) for _, a, _ in conversations(0)])
        time.sleep(0.3)
        find = subprocess.Popen([FIND, "--follow", "--from", collector.pcap_dir], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        head = find.stdout.read(24)
        assert struct.unpack("<I", head[:4])[0] == 0xA1B23C4D
        find.stdout.close()  # the reader goes away: the next write gets EPIPE
        for rnd in range(1, 20):
            collector.send([vxlan(501, a) for _, a, _ in conversations(rnd)])
            time.sleep(0.05)
            if find.poll() is not None:
                break
        rc = find.wait(timeout=10)
        assert rc == 0, find.stderr.read().decode()


# ---- truthful answers: what could not be read is said, and exits 1 -------------

T0_NS = 1_796_119_200 * 1_000_000_000  # 2026-12-01T10:00:00Z, the instant in the file names below
RSS_LIMIT_KIB = 256 << 10  # generous: a small query takes a few MiB; the failures it guards against took GiBs


def write_pcap(path, records, snaplen=65535):
    """A nanosecond pcap of (ts_ns, frame) records."""
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, snaplen, 1))
        for ts, frame in records:
            f.write(struct.pack("<IIII", ts // 1_000_000_000, ts % 1_000_000_000, len(frame), len(frame)) + frame)


def small_tree(n=20, session="web", pad=40, index=True):
    """A capture directory written here: one session, one finished pcap of n UDP packets (source port
    4000 + i, so each its own flow) with its flow index."""
    root = scratch()
    os.makedirs(os.path.join(root, session))
    path = os.path.join(root, session, f"{session}-20261201T100000Z-000001.pcap")
    write_pcap(path, [(T0_NS + i * 1000, udp4_frame("10.0.3.1", "10.0.3.2", 4000 + i, 53, bytes(pad)))
                      for i in range(n)])
    if index:
        flow_index.write_index(path, session, "c0")
    return root, path


def run_measured(*args, env=None, timeout=60):
    """mirrortap-find's exit status, standard error and peak RSS in KiB (wait4's rusage: that process only).
    A run that does not end within `timeout` is killed and fails the test (a hang, not a slow run)."""
    err = tempfile.TemporaryFile()
    p = subprocess.Popen([FIND] + list(args), stdout=subprocess.DEVNULL, stderr=err, env=env)
    timer = threading.Timer(timeout, p.kill)
    timer.start()
    _, status, usage = os.wait4(p.pid, 0)
    timer.cancel()
    p.returncode = os.waitstatus_to_exitcode(status)
    err.seek(0)
    text = err.read().decode(errors="replace")
    assert p.returncode != -signal.SIGKILL, f"mirrortap-find {args} did not end: {text}"
    return p.returncode, text, usage.ru_maxrss


def check_refused(args, message, rss_limit_kib=RSS_LIMIT_KIB):
    """Exit 1 with `message`, within the RSS bound; then exit 0 under --partial-ok, still said."""
    rc, err, rss = run_measured(*args)
    print(f"{args}: exit {rc}, peak RSS {rss} KiB")
    assert rc == 1 and message in err, f"exit {rc}: {err}"
    assert "the answer may be incomplete (--partial-ok accepts it; exit 1)" in err, err
    assert rss < rss_limit_kib, f"peak RSS {rss} KiB, the bound is {rss_limit_kib} KiB"
    rc, err, _ = run_measured("--partial-ok", *args)
    assert rc == 0 and message in err and "warning: " in err, f"--partial-ok: exit {rc}: {err}"
    return err


def current_file_is_read_without_follow():
    """The file being written (current, a .pcap.part) holds the newest packets: a search finds them
    without --follow, up to its last whole record."""
    collector = Collector(config=SESSIONS_CONFIG)  # the default rotation: nothing is finished here
    with collector:
        frames = [udp4_frame("10.0.3.1", "10.0.3.2", 5000 + i, 53, b"q" * 30) for i in range(200)]
        collector.send([vxlan(501, f) for f in frames])
        collector.wait_settled(len(frames))
        assert session_files(collector.pcap_dir, "web") == [], "expected only the file being written"
        out_path = os.path.join(collector.tmp, "now.pcap")
        out = run_find("--from", collector.pcap_dir, "--since", "-5m", "-w", out_path, "udp")
        got = pcap_records(out_path)
        assert sorted(data for _, _, data in got) == sorted(frames), f"{len(got)} of {len(frames)}: {out.stderr}"
        assert b"being written: reading it to its last whole record" in out.stderr, out.stderr
        assert collector.stop() == 0
    # A .pcap.part cut inside a record is where its writer is, not damage: exit 0, the whole records.
    root, path = small_tree(index=False)
    cut = path + ".part"
    os.rename(path, cut)
    os.truncate(cut, os.path.getsize(cut) - 30)
    out_path = os.path.join(root, "o.pcap")
    run_find("--from", root, "-w", out_path)
    assert len(pcap_records(out_path)) == 19


def truncated_pcap_exits_non_zero():
    root, path = small_tree(index=False)
    os.truncate(path, os.path.getsize(path) - 30)
    err = check_refused(["--from", root, "-w", os.path.join(root, "o.pcap")], "the file ends inside a record")
    assert len(pcap_records(os.path.join(root, "o.pcap"))) == 19, err  # --partial-ok: what was whole
    # A finished file shorter than its header.
    with open(path, "wb") as f:
        f.write(b"\x4d\x3c")
    check_refused(["--from", root, "-w", os.path.join(root, "o.pcap")], "shorter than a pcap file header")


def duplicate_sources_are_read_once():
    root, _ = small_tree()
    out_path = os.path.join(root, "o.pcap")
    out = run_find("--from", root, "--from", os.path.join(root, "web", ".."), "--from", root + "/", "-w", out_path)
    assert len(pcap_records(out_path)) == 20, out.stderr
    assert out.stderr.count(b"is the same source as") == 2, out.stderr


def sparse_index_is_refused():
    """A 40 GB sparse index: refused by its size before a byte is read (was std::bad_alloc)."""
    root, path = small_tree()
    os.truncate(path + ".flows.json.gz", 40 << 30)
    check_refused(["--from", root, "-w", os.path.join(root, "o.pcap")], "above the cap of")
    assert len(pcap_records(os.path.join(root, "o.pcap"))) == 20  # --partial-ok: read whole instead


def gzip_bomb_index_is_refused():
    """A ~0.5 MiB index that inflates to 512 MiB: stopped at the cap while inflating."""
    root, path = small_tree()
    z = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    with open(path + ".flows.json.gz", "wb") as f:
        zeros = bytes(1 << 20)
        for _ in range(512):
            f.write(z.compress(zeros))
        f.write(z.flush())
    check_refused(["--from", root, "-w", os.path.join(root, "o.pcap")], "bytes uncompressed",
                  rss_limit_kib=512 << 10)


def fifo_index_is_refused():
    root, path = small_tree()
    os.unlink(path + ".flows.json.gz")
    os.mkfifo(path + ".flows.json.gz")
    check_refused(["--from", root, "-w", os.path.join(root, "o.pcap")], "not a regular file")


def fifo_capture_is_refused():
    root, path = small_tree()
    fifo = os.path.join(os.path.dirname(path), "web-20261201T100100Z-000002.pcap")
    os.mkfifo(fifo)
    check_refused(["--from", root, "-w", os.path.join(root, "o.pcap")], "not a regular file: not read")
    assert len(pcap_records(os.path.join(root, "o.pcap"))) == 20


def misaligned_index_is_refused():
    """An index whose offsets point inside a record (here into a payload of zeros) would have read
    made-up zero-length packets; the record header is refused instead."""
    root, path = small_tree(n=400, pad=1000)
    lines = []
    for ln in flow_index.index_lines(path, "web", "c0"):
        line = json.loads(ln)
        line["first_offset"] += 16 + 42 + 100  # into the zeros of the flow's own payload
        lines.append(json.dumps(line))
    with gzip.open(path + ".flows.json.gz", "wt") as f:
        f.write("\n".join(lines) + "\n")
    out_path = os.path.join(root, "o.pcap")
    check_refused(["--from", root, "-w", out_path, "src port 4200"], "not a record header (caplen 0")
    assert all(len(data) > 0 for _, _, data in pcap_records(out_path))


def huge_caplen_under_follow_is_refused():
    """A .pcap.part whose record claims 0xfffffff0 bytes: --follow says so and does not buffer for it."""
    root = scratch()
    os.makedirs(os.path.join(root, "web"))
    part = os.path.join(root, "web", "web-20261201T100000Z-000001.pcap.part")
    with open(part, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, 65535, 1))
        f.write(struct.pack("<IIII", T0_NS // 1_000_000_000, 0, 0xFFFFFFF0, 0xFFFFFFF0))
        f.write(bytes(4 << 20))
    os.symlink(os.path.basename(part), os.path.join(root, "web", "current"))
    err_path = os.path.join(root, "err")
    with open(err_path, "wb") as err:
        p = subprocess.Popen([FIND, "--follow", "--from", root], stdout=subprocess.DEVNULL, stderr=err)
    said = False
    for _ in range(200):  # bounded: 10 s
        with open(err_path, "rb") as f:
            text = f.read()
        if b"the rest of this file is skipped" in text:
            said = True
            break
        time.sleep(0.05)
    with open(part, "ab") as f:  # the writer goes on: nothing more is buffered for this file
        f.write(bytes(8 << 20))
    time.sleep(0.3)
    p.send_signal(signal.SIGINT)
    _, status, usage = os.wait4(p.pid, 0)
    with open(err_path, "rb") as f:
        text = f.read().decode()
    assert said and "a record of 4294967280 bytes" in text, text
    assert os.waitstatus_to_exitcode(status) == 0, text
    print(f"--follow over a huge caplen: peak RSS {usage.ru_maxrss} KiB")
    assert usage.ru_maxrss < RSS_LIMIT_KIB, usage.ru_maxrss


def escape_sequences_in_names_are_escaped():
    """A session directory and file named with terminal escape sequences reach standard error escaped."""
    session = "evil\x1b]0;pwned\x07\x1b[2J"
    root, path = small_tree(session=session, index=False)
    rc, err, rss = run_measured("--from", root, "-w", os.path.join(root, "o.pcap"))
    assert rc == 0, err
    assert "\x1b" not in err and "\x07" not in err, repr(err)
    assert "evil\\x1b]0;pwned\\x07\\x1b[2J" in err, err
    assert rss < RSS_LIMIT_KIB


class LyingStore:
    """An S3-speaking server on loopback that answers as a broken or hostile store may: a listing that
    claims sizes the objects do not have, GETs refused (403) or cut short. Not a stand-in for S3's
    behaviour (s3rver is that, above): the peer whose lies mirrortap-find must survive."""

    def __init__(self, objects, listed_sizes=None, forbidden=(), short_by=0):
        from servers import LoopbackServer, error_answer
        self.objects, self.listed = objects, dict(listed_sizes or {})
        self.forbidden, self.short_by = set(forbidden), short_by
        self.error_answer = error_answer
        self.server = LoopbackServer()
        self.server.serve = self.serve
        self.paths = []

    def serve(self, h):
        self.paths.append(h.path)
        url = urllib.parse.urlsplit(h.path)
        query = urllib.parse.parse_qs(url.query)
        bucket, _, key = url.path.lstrip("/").partition("/")
        key = urllib.parse.unquote(key)
        if not key and "list-type" in query:
            prefix = query.get("prefix", [""])[0]
            contents = "".join(f"<Contents><Key>{k}</Key><Size>{self.listed.get(k, len(v))}</Size>"
                               f"<ETag>\"x\"</ETag><LastModified>2026-12-01T10:00:00.000Z</LastModified></Contents>"
                               for k, v in sorted(self.objects.items()) if k.startswith(prefix))
            body = (f'<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><Name>{bucket}</Name>'
                    f"<Prefix>{prefix}</Prefix>{contents}<IsTruncated>false</IsTruncated></ListBucketResult>").encode()
            return self.server.respond(h, 200, [("Content-Type", "application/xml")], body)
        if key in self.forbidden or key not in self.objects:
            status, headers, body = self.error_answer("AccessDenied", "Access Denied", 403)
            return self.server.respond(h, status, headers, body)
        first, last = (int(x) for x in h.headers["Range"].removeprefix("bytes=").split("-"))
        body = self.objects[key][first:last + 1]
        body = body[:max(0, len(body) - self.short_by)]
        self.server.respond(h, 206, [("Content-Range", f"bytes {first}-{first + len(body) - 1}/*")], body)

    def find_args(self):
        return ["--from", "s3://mirrortap-test/fleet", "--s3-endpoint", self.server.endpoint]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.server.stop()


def lying_store_objects():
    root, path = small_tree()
    part = "session=web/date=2026-12-01/hour=10/collector=c0/"
    name = os.path.basename(path)
    with open(path, "rb") as f, open(path + ".flows.json.gz", "rb") as g:
        objects = {f"fleet/pcap/{part}{name}": f.read(), f"fleet/flows/{part}{name}.flows.json.gz": g.read()}
    return root, [k for k in objects if "/pcap/" in k][0], [k for k in objects if "/flows/" in k][0], objects


def lying_store_env():
    return dict(os.environ, AWS_ACCESS_KEY_ID="k", AWS_SECRET_ACCESS_KEY="s", AWS_REGION="us-east-1",
                AWS_EC2_METADATA_DISABLED="true")


def check_refused_env(args, message, env):
    rc, err, rss = run_measured(*args, env=env)
    print(f"exit {rc}, peak RSS {rss} KiB")
    assert rc == 1 and message in err and "the answer may be incomplete" in err, f"exit {rc}: {err}"
    assert rss < RSS_LIMIT_KIB, rss
    rc, err, _ = run_measured("--partial-ok", *args, env=env)
    assert rc == 0 and message in err and "warning: " in err, f"--partial-ok: exit {rc}: {err}"


def oversize_s3_listing_is_refused():
    """A listing that says the index is 5 GB: refused by that size, no GET of it (was 2.1 GB RSS)."""
    root, pcap_key, index_key, objects = lying_store_objects()
    with LyingStore(objects, listed_sizes={index_key: 5_000_000_000}) as store:
        out = os.path.join(root, "o.pcap")
        check_refused_env(store.find_args() + ["-w", out], "listed as 5000000000 bytes, above the cap", lying_store_env())
        assert len(pcap_records(out)) == 20  # --partial-ok: the pcap read whole
        assert not any("flows.json.gz" in p for p in store.paths if "list-type" not in p), store.paths


def forbidden_and_short_objects_exit_non_zero():
    """Every GetObject answered 403, or an object shorter than listed: said, exit 1 (was 'wrote 0 packets', 0)."""
    root, pcap_key, index_key, objects = lying_store_objects()
    with LyingStore(objects, forbidden=[pcap_key, index_key]) as store:
        check_refused_env(store.find_args() + ["-w", os.path.join(root, "o.pcap")], "AccessDenied", lying_store_env())
    with LyingStore(objects, short_by=100) as store:
        check_refused_env(store.find_args() + ["-w", os.path.join(root, "o.pcap")], " bytes, got ", lying_store_env())



# ---- pcapng: where each packet came from -------------------------------------------

def index_origin(pcap_dir, session):
    """(collector, vni) as the index of a finished file of the session says."""
    with gzip.open(session_files(pcap_dir, session)[0] + ".flows.json.gz", "rt") as f:
        line = json.loads(f.readline())
    return line["collector"], line["vni"]


def pcapng_output_names_each_packets_interface():
    """-F pcapng: tshark reads it back with one interface per session and collector (session@collector,
    the VNI in its description) on each packet; packets, order and nanosecond times equal the classic output."""
    with Fleet() as fleet:
        sources = ["--from", fleet.dirs[0], "--from", fleet.dirs[1]]
        classic, ng, back = (os.path.join(fleet.tmp, n) for n in ("classic.pcap", "out.pcapng", "back.pcap"))
        run_find(*sources, "-w", classic, "not port 5432")
        run_find(*sources, "-F", "pcapng", "-w", ng, "not port 5432")
        with open(ng, "rb") as f:
            assert struct.unpack("<I", f.read(4))[0] == 0x0A0D0D0A  # a section header block first
        subprocess.run(["editcap", "-F", "nsecpcap", ng, back], check=True, timeout=60)
        want = pcap_records(classic)
        assert len(want) > 100 and pcap_records(back) == want, "pcapng holds other packets than the classic pcap"
        t = subprocess.run(["tshark", "-r", ng, "-T", "fields", "-E", "separator=|", "-e", "frame.interface_name",
                            "-e", "frame.interface_description"], capture_output=True, text=True, timeout=60)
        assert t.returncode == 0, t.stderr
        shown = [tuple(ln.split("|")) for ln in t.stdout.splitlines()]
        assert len(shown) == len(want)
        # Each packet's interface: the session and collector whose files hold it.
        origin_of = {}
        for d in fleet.dirs:
            for session in ("web", "db"):
                collector, vni = index_origin(d, session)
                part = os.path.join(fleet.tmp, "part.pcap")
                run_find("--from", d, "--session", session, "-w", part, "not port 5432")
                for rec in pcap_records(part):
                    origin_of[rec] = (f"{session}@{collector}", vni)
        for rec, (name, description) in zip(want, shown):
            expected_name, vni = origin_of[rec]
            assert name == expected_name, f"{name} != {expected_name}"
            assert description.endswith(f"VNI {vni}" if vni is not None else "VNI unknown"), description
        assert len({name for name, _ in shown}) == 4, set(shown)  # 2 sessions x 2 collectors
        # Standard output too, as tshark -r - reads it.
        p = subprocess.run(f"{FIND} {' '.join(sources)} -F pcapng 'not port 5432' | tshark -r - -T fields "
                           f"-e frame.interface_name", shell=True, capture_output=True, text=True, timeout=60)
        assert [ln for ln in p.stdout.splitlines()] == [n for n, _ in shown], p.stderr


if __name__ == "__main__":
    globals()[sys.argv[1]]()
