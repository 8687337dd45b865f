"""Shared pieces of the integration tests: run the real collector, craft VXLAN
datagrams, read results back with tcpdump, tshark and curl (tools we did not write)."""
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

BIN = os.environ.get("MIRRORTAP_BIN", os.path.join(os.path.dirname(__file__), "../../build/bin"))
COLLECTOR = os.path.join(BIN, "mirrortap-collector")
SKIP = 77  # ctest SKIP_RETURN_CODE


_handed_out = set()


def free_port(kind=socket.SOCK_DGRAM, family=socket.AF_INET, host="127.0.0.1"):
    """A port nobody holds now, and never one this process handed out before: the kernel
    gives a just-closed ephemeral port again, so two calls could name the same port."""
    while True:
        with socket.socket(family, kind) as s:
            s.bind((host, 0))
            port = s.getsockname()[1]
        if port not in _handed_out:
            _handed_out.add(port)
            return port


# ---- frames -------------------------------------------------------------

def mac(last):
    return bytes([0x02, 0, 0, 0, 0, last])


def ethernet(ether_type, vlans=(), dst=0xBB, src=0xAA):
    """vlans: (tpid, vid) pairs, outermost first."""
    b = mac(dst) + mac(src)
    for tpid, vid in vlans:
        b += struct.pack("!HH", tpid, vid)
    return b + struct.pack("!H", ether_type)


def ipv4(proto, src, dst, payload_len, total_length=None):
    total = total_length if total_length is not None else 20 + payload_len
    return struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, 0x1234, 0, 64, proto, 0,
                       socket.inet_aton(src), socket.inet_aton(dst))


def udp(sport, dport, payload):
    return struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload


def udp4_frame(src="10.0.0.1", dst="10.0.0.2", sport=1000, dport=2000, payload=b"x" * 18, vlans=()):
    l4 = udp(sport, dport, payload)
    return ethernet(0x0800, vlans) + ipv4(17, src, dst, len(l4)) + l4


def udp6_frame(src="2001:db8::1", dst="2001:db8::2", sport=1000, dport=2000, payload=b"y" * 20):
    l4 = udp(sport, dport, payload)
    ip = struct.pack("!IHBB", 0x60000000, len(l4), 17, 64) + socket.inet_pton(socket.AF_INET6, src) \
        + socket.inet_pton(socket.AF_INET6, dst)
    return ethernet(0x86DD) + ip + l4


def seq_frame(session, seq, size=200):
    """An IPv4/UDP frame of `size` bytes whose payload carries (session, seq)."""
    payload = struct.pack("!II", session, seq)
    payload += b"\0" * (size - 14 - 20 - 8 - len(payload))
    return udp4_frame(sport=1000 + seq % 64, payload=payload)


def vxlan(vni, frame, flags=0x08):
    return struct.pack("!BBBB", flags, 0, 0, 0) + vni.to_bytes(3, "big") + b"\0" + frame


# ---- the collector ------------------------------------------------------

class StartFailed(AssertionError):
    pass


class Collector:
    """The real binary on loopback; stop() sends SIGTERM and returns its exit code."""

    def __init__(self, *args, pcap_dir=None, metrics=True, listen=None, config=None, workers=1, defer_start=False):
        self.tmp = tempfile.mkdtemp(prefix="mirrortap-it-")
        self.pcap_dir = pcap_dir or os.path.join(self.tmp, "captures")
        self.port = free_port()
        self.listen = listen or f"127.0.0.1:{self.port}"
        self.metrics_port = free_port(socket.SOCK_STREAM) if metrics else None
        cmd = [COLLECTOR, "--listen", self.listen, "--pcap-dir", self.pcap_dir, "--workers", str(workers)]
        if config:
            path = os.path.join(self.tmp, "config.yaml")
            with open(path, "w") as f:
                f.write(config)
            cmd = [COLLECTOR, "--config", path] + cmd[1:]
        if metrics:
            cmd += ["--metrics-listen", f"127.0.0.1:{self.metrics_port}"]
        if os.geteuid() == 0 and "--user" not in args:
            cmd.append("--allow-root")  # tests run as root; the collector refuses that unless told
        self.cmd = cmd + list(args)
        self.stderr_path = os.path.join(self.tmp, "stderr")
        self.proc = None
        if not defer_start:
            self.start()

    def start(self):
        # Ports are picked free but not held: a parallel test may take one first.
        for attempt in range(3):
            self.stderr = open(self.stderr_path, "w+")
            self.proc = subprocess.Popen(self.cmd, stdout=subprocess.DEVNULL, stderr=self.stderr)
            try:
                return self._wait_listening()
            except StartFailed as e:
                if "in use" not in str(e) or attempt == 2 or self.listen != f"127.0.0.1:{self.port}":
                    raise AssertionError(str(e))
                self._new_ports()

    def _new_ports(self):
        old_listen, old_metrics = self.listen, f"127.0.0.1:{self.metrics_port}"
        self.port = free_port()
        self.listen = f"127.0.0.1:{self.port}"
        if self.metrics_port:
            self.metrics_port = free_port(socket.SOCK_STREAM)
        new_metrics = f"127.0.0.1:{self.metrics_port}"
        self.cmd = [new_metrics if a == old_metrics else self.listen if a == old_listen else a for a in self.cmd]

    def _wait_listening(self):
        for _ in range(200):  # bounded: 10 s
            if self.proc.poll() is not None:
                raise StartFailed(f"collector exited {self.proc.returncode}: {self.read_stderr()}")
            if "listening on" in self.read_stderr():
                return
            time.sleep(0.05)
        raise AssertionError("collector did not start: " + self.read_stderr())

    def read_stderr(self):
        with open(self.stderr_path) as f:
            return f.read()

    def wait_stderr(self, text, count=1):
        """Until `text` has appeared `count` times on standard error (bounded: 10 s)."""
        for _ in range(200):
            if self.read_stderr().count(text) >= count:
                return
            time.sleep(0.05)
        raise AssertionError(f"no {text!r} (x{count}) in {self.read_stderr()}")

    def reload(self, config):
        """Writes `config` as the collector's config file and sends SIGHUP."""
        with open(os.path.join(self.tmp, "config.yaml"), "w") as f:
            f.write(config)
        self.proc.send_signal(signal.SIGHUP)

    def send(self, datagrams, source="127.0.0.1", family=socket.AF_INET, pace_every=200):
        host, port = self.listen.rsplit(":", 1)
        host = host.strip("[]")
        with socket.socket(family, socket.SOCK_DGRAM) as s:
            s.bind((source, 0))
            for i, d in enumerate(datagrams):
                s.sendto(d, (host, int(port)))
                if pace_every and i % pace_every == pace_every - 1:
                    time.sleep(0.002)  # stay well inside the receive buffer

    def metrics(self):
        out = subprocess.run(["curl", "-sf", f"http://127.0.0.1:{self.metrics_port}/metrics"],
                             capture_output=True, text=True, timeout=10)
        assert out.returncode == 0, f"curl /metrics failed: {out.returncode}"
        return parse_metrics(out.stdout)

    def http_status(self, path):
        out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                              f"http://127.0.0.1:{self.metrics_port}{path}"],
                             capture_output=True, text=True, timeout=10)
        return int(out.stdout or 0)

    def wait_metrics(self, predicate, what, tries=200):
        """The first scrape for which predicate(metrics) holds (bounded: `tries` scrapes, 50 ms apart)."""
        for _ in range(tries):
            m = self.metrics()
            if predicate(m):
                return m
            time.sleep(0.05)
        raise AssertionError(f"no scrape with {what} in {tries} tries")

    def wait_settled(self, received):
        """Until `received` datagrams are counted and nothing is buffered in any sink."""
        for _ in range(200):  # bounded: 10 s
            m = self.metrics()
            if value(m, "mirrortap_received_packets_total") >= received and \
                    sum(v for (n, _), v in m.items() if n == "mirrortap_sink_buffered_packets") == 0:
                return m
            time.sleep(0.05)
        raise AssertionError(f"collector did not settle at {received} datagrams")

    def stop(self, sig=signal.SIGTERM):
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise AssertionError("collector did not exit within 20 s of SIGTERM")

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *exc):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if exc_type is not None and self.proc:
            # A failed test's first clue is often the collector's own words, a
            # sanitizer's report (exit 66 under TSan) among them; ctest shows ours.
            sys.stderr.write(f"--- collector stderr ({self.stderr_path}):\n{self.read_stderr()[-20000:]}\n")


# ---- reading results back -------------------------------------------------

_METRIC = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)$')
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def wait_for(what, check, seconds=30):
    """Until check() is true (bounded), or fails naming `what`."""
    for _ in range(int(seconds / 0.05)):
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"no {what} within {seconds} s")


def parse_metrics(text):
    """{(name, frozenset(labels)): value} from the Prometheus text format."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _METRIC.match(line)
        if not m:
            raise AssertionError(f"unparseable metrics line: {line!r}")
        labels = frozenset(_LABEL.findall(m.group(3) or ""))
        # A series given twice (two reasons named alike, say) is one Prometheus refuses.
        assert (m.group(1), labels) not in out, f"series given twice on the page: {line!r}"
        out[(m.group(1), labels)] = float(m.group(4))
    return out


def value(metrics, name, **labels):
    want = set(labels.items())
    total = 0.0
    for (n, l), v in metrics.items():
        if n == name and want <= set(l):
            total += v
    return total


def check_identities(m):
    """received = Σ decap errors + Σ session packets (live and expired sessions);
    per (sink, session): in = written + dropped + buffered; per sink, for expired sessions: in = written + dropped."""
    received = value(m, "mirrortap_received_packets_total")
    errors = value(m, "mirrortap_decap_errors_total")
    sessions = value(m, "mirrortap_session_packets_total")
    expired = value(m, "mirrortap_expired_session_packets_total")
    assert received == errors + sessions + expired, \
        f"received {received} != errors {errors} + sessions {sessions} + expired sessions {expired}"
    for (n, l), fed in m.items():
        if n != "mirrortap_expired_sink_packets_total":
            continue
        sink = dict(l)["sink"]
        w = value(m, "mirrortap_expired_sink_written_packets_total", sink=sink)
        d = value(m, "mirrortap_expired_sink_dropped_packets_total", sink=sink)
        assert fed == w + d, f"expired sessions, {sink}: {fed} != {w} + {d}"
    # Per (sink, session labels): sums of written, dropped and buffered, in one pass, so that
    # thousands of sessions cost thousands of steps, not millions.
    sink_sums = {}
    for (n, l), v in m.items():
        kind = {"mirrortap_sink_written_packets_total": 0, "mirrortap_sink_dropped_packets_total": 1,
                "mirrortap_sink_buffered_packets": 2}.get(n)
        if kind is None:
            continue
        labels = dict(l)
        sink = labels.pop("sink")
        labels.pop("reason", None)
        sums = sink_sums.setdefault(frozenset(labels.items()), {}).setdefault(sink, [0.0, 0.0, 0.0])
        sums[kind] += v
    for (n, l), packets in m.items():
        if n != "mirrortap_session_packets_total":
            continue
        # The sinks this session feeds (a session may select some with `sinks:`).
        for sink, (w, d, b) in sink_sums.get(l, {}).items():
            assert packets == w + d + b, f"{sink}/{dict(l)}: {packets} != {w} + {d} + {b}"


def tcpdump_frames(path):
    """Frame bytes of every record, as tcpdump prints them (-xx)."""
    out = subprocess.run(["tcpdump", "-r", path, "-n", "-xx"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, f"tcpdump -r {path}: {out.stderr}"
    assert "truncated" not in out.stderr.lower(), f"tcpdump says {path} is cut short: {out.stderr}"
    frames, cur = [], None
    for line in out.stdout.splitlines():
        if line.startswith("\t0x"):
            hexpart = line.split(":", 1)[1].split("  ")[1] if "  " in line.split(":", 1)[1] else ""
            cur.extend(bytes.fromhex(hexpart.replace(" ", "")))
        else:
            cur = bytearray()
            frames.append(cur)
    return [bytes(f) for f in frames]


def tshark_lengths(path):
    """(frame.len, frame.cap_len) of every record, as tshark reads them."""
    out = subprocess.run(["tshark", "-r", path, "-T", "fields", "-e", "frame.len", "-e", "frame.cap_len"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, f"tshark -r {path}: {out.stderr}"
    return [tuple(int(x) for x in line.split("\t")) for line in out.stdout.splitlines() if line]


def session_files(pcap_dir, session):
    d = os.path.join(pcap_dir, session)
    return sorted(os.path.join(d, f) for f in os.listdir(d) if f.endswith(".pcap")) if os.path.isdir(d) else []


def leftovers(pcap_dir):
    found = []
    for root, _, files in os.walk(pcap_dir):
        found += [os.path.join(root, f) for f in files if f.endswith(".part") or f == "current"]
    return found


def run(tests):
    """Runs the named test function given on the command line."""
    if os.geteuid() != 0 and os.environ.get("MIRRORTAP_NEEDS_ROOT"):
        print("SKIP: needs root")
        sys.exit(SKIP)
    name = sys.argv[1]
    tests[name]()
    print(f"PASS {name}")
