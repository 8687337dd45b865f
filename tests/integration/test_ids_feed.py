"""The IDS feed end to end: TAP devices read with tcpdump -i, the pcap stream read with
tshark/tcpdump through a pipe and a FIFO, VXLAN forward into a second collector.

TAP tests run whole inside a network namespace they make (`ip netns exec`), so the
collector's TAPs, tcpdump and the loopback traffic live and die there."""
import os
import signal
import struct
import subprocess
import sys
import tempfile
import time

from harness import (SKIP, Collector, check_identities, ethernet, ipv4, run, session_files, tcpdump_frames, udp,
                     value, vxlan)

IN_NETNS = "MIRRORTAP_IN_NETNS"


def in_private_netns(test):
    """Runs the test again as `ip netns exec NS python3 this-file test` in a namespace of its own."""
    def wrapper():
        if os.environ.get(IN_NETNS):
            subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
            return test()
        if os.geteuid() != 0:
            print("SKIP: TAP devices and network namespaces need root")
            sys.exit(SKIP)
        ns = f"mt-ids-{os.getpid()}"
        subprocess.run(["ip", "netns", "add", ns], check=True)
        try:
            out = subprocess.run(["ip", "netns", "exec", ns, sys.executable, os.path.abspath(__file__),
                                  test.__name__], env=dict(os.environ, **{IN_NETNS: ns}), timeout=170)
            assert out.returncode == 0, f"{test.__name__} failed inside {ns}"
        finally:
            subprocess.run(["ip", "netns", "del", ns])
    wrapper.__name__ = test.__name__
    return wrapper


# ---- traffic ---------------------------------------------------------------

def mac(last):
    return bytes([0x02, 0, 0, 0, 0, last])


def flow_frame(a, b, sport, dport, tag, proto=17):
    """IPv4 UDP/TCP frame a:sport -> b:dport whose payload is `tag` (unique per frame)."""
    payload = tag.ljust(40, b".")
    if proto == 17:
        l4 = udp(sport, dport, payload)
    else:
        l4 = struct.pack("!HHIIBBHHH", sport, dport, 1, 0, 0x50, 0x18, 1024, 0, 0) + payload
    ip = ipv4(proto, a, b, len(l4))
    last_a, last_b = int(a.rsplit(".", 1)[1]), int(b.rsplit(".", 1)[1])
    return mac(last_b) + mac(last_a) + struct.pack("!H", 0x0800) + ip + l4


def bidirectional_traffic(vnis, flows, packets_each):
    """[(vni, flow id, frame)]: each flow's packets go both ways, interleaved as a conversation."""
    out = []
    for vni in vnis:
        for f in range(flows):
            a, b = f"10.1.{f // 200}.{1 + f % 200}", f"10.2.0.{1 + f % 50}"
            sport, dport = 20000 + f, 443 if f % 2 else 53
            proto = 6 if f % 2 else 17
            for i in range(packets_each):
                tag = f"v{vni}f{f}p{i}".encode()
                out.append((vni, f, flow_frame(a, b, sport, dport, tag + b">", proto)))
                out.append((vni, f, flow_frame(b, a, dport, sport, tag + b"<", proto)))
        # Non-IP between two MAC pairs, both ways: kept together by MAC pair.
        for i in range(packets_each):
            for m in (0x31, 0x32):
                out.append((vni, f"arp{m}", mac(0x99) + mac(m) + struct.pack("!H", 0x0806) + bytes([m, i]) * 23))
                out.append((vni, f"arp{m}", mac(m) + mac(0x99) + struct.pack("!H", 0x0806) + bytes([m, i]) * 23))
    return out


class Tcpdump:
    """tcpdump -i DEV -w FILE, started and known to be capturing before traffic is sent."""

    def __init__(self, dev, path, *extra):
        self.path = path
        self.err = tempfile.TemporaryFile(mode="w+")
        # Immediate mode uses fixed ring slots of snaplen bytes: a jumbo-sized
        # snaplen and a 32 MiB buffer keep a burst from overrunning the ring.
        cmd = ["tcpdump", "-i", dev, "-n", "--immediate-mode", "-s", "9400", "-B", "32768", "-U", "-w", path]
        self.proc = subprocess.Popen(cmd + list(extra), stdout=subprocess.DEVNULL, stderr=self.err)
        for _ in range(200):  # bounded: 10 s
            self.err.seek(0)
            if "listening on" in self.err.read():
                return
            assert self.proc.poll() is None, "tcpdump exited early"
            time.sleep(0.05)
        raise AssertionError(f"tcpdump on {dev} did not start")

    def stop(self):
        # A frame written to a TAP is in tcpdump's ring when write(2) returns;
        # wait until tcpdump has written out what it holds (-U: per packet).
        size, still = -1, 0
        for _ in range(100):  # bounded: 10 s
            now = os.path.getsize(self.path) if os.path.exists(self.path) else 0
            still = still + 1 if now == size else 0
            if still >= 5:
                break
            size = now
            time.sleep(0.1)
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(timeout=20)
        self.err.seek(0)
        report = self.err.read()
        assert "\n0 packets dropped by kernel" in report, report
        return tcpdump_frames(self.path)


def tshark_fields(path, *fields):
    out = subprocess.run(["tshark", "-r", path, "-T", "fields"] + [a for f in fields for a in ("-e", f)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return [line.split("\t") for line in out.stdout.splitlines()]


# ---- TAP ---------------------------------------------------------------------

@in_private_netns
def tap_flows_keep_both_directions_together():
    traffic = bidirectional_traffic([101, 102], flows=60, packets_each=4)
    tmp = tempfile.mkdtemp(prefix="mirrortap-tap-")
    with Collector("--no-pcap", "--tap", "mt0,mt1", workers=2) as c:
        dumps = [Tcpdump(f"mt{i}", os.path.join(tmp, f"mt{i}.pcap")) for i in range(2)]
        c.send([vxlan(vni, frame) for vni, _, frame in traffic])
        m = c.wait_settled(len(traffic))
        check_identities(m)
        assert value(m, "mirrortap_sink_written_packets_total", sink="tap") == len(traffic)
        assert value(m, "mirrortap_sink_dropped_packets_total", sink="tap") == 0
        assert c.http_status("/healthz") == 200
        captured = [d.stop() for d in dumps]
        assert c.stop() == 0

    # Every frame exactly once, nothing else on the TAPs (no IPv6 or ARP of the host's own).
    sent = sorted(frame for _, _, frame in traffic)
    got = sorted(captured[0] + captured[1])
    assert got == sent, f"{len(got)} frames captured, {len(sent)} sent (or bytes differ)"
    where = {}
    for tap, frames in enumerate(captured):
        for frame in frames:
            where[frame] = tap
    flows_on = {0: set(), 1: set()}
    for vni, flow, frame in traffic:
        flows_on[where[frame]].add((vni, flow))
    assert not (flows_on[0] & flows_on[1]), f"flows split across TAPs: {sorted(flows_on[0] & flows_on[1])[:5]}"
    assert flows_on[0] and flows_on[1], "one TAP got nothing"
    share = len(captured[0]) / len(sent)
    assert 0.25 < share < 0.75, f"uneven spread: {share:.2f} on mt0"


@in_private_netns
def tap_session_vlan_tells_overlapping_sessions_apart():
    # Two VPCs with the same address plan: identical frames, told apart only by the session.
    config = ("tap_session_vlan: true\nsessions:\n  - {vni: 201, name: vpc-a}\n"
              "  - {vni: 5000, name: vpc-b, vlan: 7}\n")
    same = [flow_frame("10.0.0.5", "10.0.0.9", 40000 + i, 443, b"same%d" % i, proto=6) for i in range(20)]
    tagged = ethernet(0x0800, vlans=[(0x8100, 300)]) + ipv4(17, "10.0.0.5", "10.0.0.9", 8) + udp(1, 2, b"")
    tmp = tempfile.mkdtemp(prefix="mirrortap-vlan-")
    with Collector("--no-pcap", "--tap", "mt0", config=config) as c:
        dump = Tcpdump("mt0", os.path.join(tmp, "mt0.pcap"))
        c.send([vxlan(201, f) for f in same] + [vxlan(5000, f) for f in same] + [vxlan(201, tagged)])
        c.wait_settled(41)
        frames = dump.stop()
        assert c.stop() == 0

    def push(frame, vid):
        return frame[:12] + struct.pack("!HH", 0x8100, vid) + frame[12:]
    assert sorted(frames) == sorted([push(f, 201) for f in same] + [push(f, 7) for f in same] + [push(tagged, 201)])
    # What an IDS keys on: the outer VLAN ID, then the 5-tuple. tshark agrees.
    rows = tshark_fields(dump.path, "vlan.id", "ip.src", "tcp.srcport")
    by_vlan = {}
    for vlan_ids, src, port in rows:
        by_vlan.setdefault(vlan_ids.split(",")[0], set()).add((src, port))
    assert by_vlan["201"] >= by_vlan["7"] and len(by_vlan["7"]) == 20, by_vlan.keys()
    assert ["201,300"] in [r[:1] for r in rows], "a frame's own tag stays, inside the session's"


# ---- stream --------------------------------------------------------------------

def numbered(vni, n, size=120):
    """n frames whose payload carries (vni, seq)."""
    out = []
    for i in range(n):
        payload = struct.pack("!II", vni, i).ljust(size - 42, b"\0")
        out.append(ethernet(0x0800) + ipv4(17, "10.0.0.1", "10.0.0.2", 8 + len(payload)) +
                   udp(1000 + i % 32, 2000, payload))
    return out


def seqs_by_vni(frames):
    seen = {}
    for f in frames:
        vni, seq = struct.unpack("!II", f[42:50])
        seen.setdefault(vni, []).append(seq)
    return seen


class StreamCollector(Collector):
    """The collector with --stream -, its standard output piped into a reader."""

    def __init__(self, reader, *args, **kw):
        self.reader_cmd = reader
        super().__init__(*args, defer_start=True, **kw)
        self.start()

    def start(self):
        self.stderr = open(self.stderr_path, "w+")
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.PIPE, stderr=self.stderr)
        self.reader = subprocess.Popen(self.reader_cmd, stdin=self.proc.stdout, stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL)
        self.proc.stdout.close()  # the reader holds the pipe now: its exit is ours to notice
        self._wait_listening()


def stream_read_by_tshark_carries_every_frame():
    out = os.path.join(tempfile.mkdtemp(prefix="mirrortap-stream-"), "out.pcap")
    frames = {vni: numbered(vni, 1500) for vni in (301, 302, 303)}
    sent = [vxlan(vni, f) for i in range(1500) for vni, fs in frames.items() for f in [fs[i]]]
    with StreamCollector(["tshark", "-q", "-i", "-", "-w", out, "-F", "pcap"],
                         "--no-pcap", "--stream", "-", workers=2) as c:
        time.sleep(1.0)  # tshark takes a while to start reading
        c.send(sent)
        m = c.wait_settled(len(sent))
        check_identities(m)
        assert value(m, "mirrortap_sink_written_packets_total", sink="stream") == len(sent)
        assert c.stop() == 0
        c.reader.wait(timeout=30)  # EOF when the collector closed the stream
    got = tcpdump_frames(out)
    assert sorted(got) == sorted(f for fs in frames.values() for f in fs)
    assert seqs_by_vni(got) == {vni: list(range(1500)) for vni in frames}, "a session's order changed"


def stream_reader_restarted_on_a_fifo():
    tmp = tempfile.mkdtemp(prefix="mirrortap-fifo-")
    fifo = os.path.join(tmp, "feed")
    frames = numbered(401, 6000)
    with Collector("--no-pcap", "--stream", fifo, "--stream-required") as c:
        assert c.http_status("/healthz") == 503, "nobody reads yet, and the stream is required"
        first = subprocess.Popen(["tcpdump", "-r", fifo, "-w", os.path.join(tmp, "r1.pcap")],
                                 stderr=subprocess.DEVNULL)
        for _ in range(100):
            if c.http_status("/healthz") == 200:
                break
            time.sleep(0.05)
        assert c.http_status("/healthz") == 200
        c.send([vxlan(401, f) for f in frames[:2000]])
        c.wait_settled(2000)
        first.kill()  # mid-stream, without a word
        first.wait()
        c.send([vxlan(401, f) for f in frames[2000:4000]])  # the writer notices on its next write
        m = c.wait_settled(4000)
        assert value(m, "mirrortap_sink_dropped_packets_total", sink="stream", reason="no_reader") > 0
        for _ in range(100):
            if c.http_status("/healthz") == 503:
                break
            time.sleep(0.05)
        assert c.http_status("/healthz") == 503
        second_path = os.path.join(tmp, "r2.pcap")
        second = subprocess.Popen(["tcpdump", "-r", fifo, "-w", second_path], stderr=subprocess.DEVNULL)
        for _ in range(100):
            if c.http_status("/healthz") == 200:
                break
            time.sleep(0.05)
        assert c.http_status("/healthz") == 200
        c.send([vxlan(401, f) for f in frames[4000:]])
        m = c.wait_settled(6000)
        check_identities(m)
        written = value(m, "mirrortap_sink_written_packets_total", sink="stream")
        lost = value(m, "mirrortap_sink_dropped_packets_total", sink="stream")
        assert written + lost == 6000 and lost > 0, (written, lost)
        assert c.proc.poll() is None
        assert c.stop() == 0
        second.wait(timeout=30)  # EOF at exit
    # The second reader got a header of its own, then whole records in order.
    got = seqs_by_vni(tcpdump_frames(second_path))[401]
    assert got == list(range(4000, 6000)), (got[:3], len(got))


@in_private_netns
def reload_keeps_the_feed_running():
    """SIGHUP adds a TAP while traffic flows: mt0 and the stream's reader carry on, nothing is lost."""
    tmp = tempfile.mkdtemp(prefix="mirrortap-reload-")
    fifo = os.path.join(tmp, "feed")
    base = f"pcap:\n  enabled: false\nstream: {fifo}\n"
    total = 4000
    frames = numbered(701, total)
    with Collector(config=base + "tap: [mt0]\n") as c:
        reader_path = os.path.join(tmp, "reader.pcap")
        reader = subprocess.Popen(["tcpdump", "-r", fifo, "-w", reader_path], stderr=subprocess.DEVNULL)
        for _ in range(100):
            if value(c.metrics(), "mirrortap_healthy") == 1 and os.path.exists(fifo):
                break
            time.sleep(0.05)
        dump = Tcpdump("mt0", os.path.join(tmp, "mt0.pcap"))
        time.sleep(0.5)  # the FIFO's reader is found within 200 ms
        c.send([vxlan(701, f) for f in frames[:total // 2]])
        c.reload(base + "tap: [mt0, mt1]\n")
        c.wait_stderr("reloaded")
        assert subprocess.run(["ip", "link", "show", "mt1"], capture_output=True).returncode == 0
        c.send([vxlan(701, f) for f in frames[total // 2:]])
        m = c.wait_settled(total)
        check_identities(m)
        assert value(m, "mirrortap_sink_written_packets_total", sink="stream") == total
        assert value(m, "mirrortap_sink_written_packets_total", sink="tap") == total
        on_mt0 = dump.stop()
        assert c.stop() == 0
        reader.wait(timeout=30)
    # One header, then every record in order: the reload did not restart the stream.
    assert seqs_by_vni(tcpdump_frames(reader_path))[701] == list(range(total))
    # The flow of these frames hashes to one TAP of two after the reload; before it, mt0 had them all.
    assert len(on_mt0) >= total // 2


@in_private_netns
def refused_reload_leaves_the_taps_as_they_were():
    """A reload that would add a TAP but fails at a later step (forward) or at the TAP itself:
    the TAP made aside is gone again, mt0 carries every frame, in order."""
    tmp = tempfile.mkdtemp(prefix="mirrortap-tap-refused-")
    base = "pcap:\n  enabled: false\n"
    total = 3000
    frames = numbered(702, total)
    with Collector(config=base + "tap: [mt0]\n") as c:
        dump = Tcpdump("mt0", os.path.join(tmp, "mt0.pcap"))

        def refused(config, why, count):
            c.reload(base + config)
            c.wait_stderr("still running the previous configuration", count)
            assert f"reload refused: {why}" in c.read_stderr(), c.read_stderr()

        c.send([vxlan(702, f) for f in frames[:1000]])
        # No route for it here (EACCES where there is one): the last step fails either way.
        refused("tap: [mt0, mt1]\nforward: 255.255.255.255:4789\n", "cannot forward to 255.255.255.255:4789: ", 1)
        assert subprocess.run(["ip", "link", "show", "mt1"], capture_output=True).returncode != 0, \
            "the TAP opened for a refused reload is still there"
        c.send([vxlan(702, f) for f in frames[1000:2000]])
        refused("tap: [mt0, mt1, lo]\n", "cannot create TAP lo", 2)
        assert subprocess.run(["ip", "link", "show", "mt1"], capture_output=True).returncode != 0
        c.send([vxlan(702, f) for f in frames[2000:]])
        m = c.wait_settled(total)
        check_identities(m)
        assert value(m, "mirrortap_sink_written_packets_total", sink="tap") == total
        on_mt0 = dump.stop()
        # And a reload without the failure adds the TAP.
        c.reload(base + "tap: [mt0, mt1]\n")
        c.wait_stderr("reloaded")
        assert subprocess.run(["ip", "link", "show", "mt1"], capture_output=True).returncode == 0
        assert c.stop() == 0
    assert seqs_by_vni(on_mt0)[702] == list(range(total))


# ---- forward ---------------------------------------------------------------------

def forward_into_a_second_collector():
    jumbo_payload = bytes(range(256)) * 34 + b"z" * 254
    jumbo = ethernet(0x0800) + ipv4(17, "10.0.0.1", "10.0.0.2", 8 + len(jumbo_payload)) + udp(7, 8, jumbo_payload)
    cases = [(0, f) for f in numbered(0, 50)] + [(16777215, f) for f in numbered(16777215, 50)] + \
            [(501, f) for f in numbered(501, 300)] + [(501, jumbo)] * 3
    with Collector("--rcvbuf", "16M") as second:
        with Collector("--no-pcap", "--forward", second.listen, workers=2) as first:
            first.send([vxlan(v, f) for v, f in cases])
            m = first.wait_settled(len(cases))
            check_identities(m)
            assert value(m, "mirrortap_sink_written_packets_total", sink="forward") == len(cases)
            assert first.stop() == 0
        m2 = second.wait_settled(len(cases))
        check_identities(m2)
        for vni in (0, 501, 16777215):
            want = sum(1 for v, _ in cases if v == vni)
            assert value(m2, "mirrortap_session_packets_total", vni=str(vni)) == want, vni
        assert second.stop() == 0
        for vni in (0, 501, 16777215):
            got = tcpdump_frames(session_files(second.pcap_dir, f"vni-{vni}")[0])
            assert got == [f for v, f in cases if v == vni], f"VNI {vni}: frames differ"


def sessions_pick_their_sinks():
    config = "sessions:\n  - {vni: 601, name: files-only, sinks: [pcap]}\n" \
             "  - {vni: 602, name: feed-only, sinks: [forward]}\n"
    with Collector() as second:
        with Collector("--forward", second.listen, config=config, workers=2) as first:
            sent = [vxlan(601, f) for f in numbered(601, 40)] + [vxlan(602, f) for f in numbered(602, 40)] + \
                   [vxlan(603, f) for f in numbered(603, 40)]
            first.send(sent)
            m = first.wait_settled(len(sent))
            check_identities(m)  # only for the sinks each session feeds
            assert value(m, "mirrortap_sink_written_packets_total", sink="pcap", session="files-only") == 40
            assert value(m, "mirrortap_sink_written_packets_total", sink="forward", session="feed-only") == 40
            assert value(m, "mirrortap_sink_written_packets_total", session="vni-603") == 80  # both
            series = [dict(l) for (n, l) in m if n == "mirrortap_sink_written_packets_total"]
            assert {"sink": "forward", "session": "files-only", "vni": "601"} not in series
            assert first.stop() == 0
            assert sorted(os.listdir(first.pcap_dir)) == ["files-only", "vni-603"]
        second.wait_settled(80)
        assert second.stop() == 0
        assert sorted(os.listdir(second.pcap_dir)) == ["vni-602", "vni-603"]


def deploy_ids_files_agree():
    """deploy/ids: the example collector config checks, and Suricata and Zeek sniff exactly its TAPs."""
    import configparser
    import yaml
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../deploy/ids")
    collector = os.path.join(here, "collector-ids.yaml")
    out = subprocess.run([os.path.join(os.environ.get("MIRRORTAP_BIN", ""), "mirrortap-collector"),
                          "--config", collector, "--check-config"], capture_output=True, text=True, timeout=10)
    assert out.returncode == 0, out.stderr
    with open(collector) as f:
        taps = yaml.safe_load(f)["tap"]
    with open(os.path.join(here, "suricata-af-packet.yaml")) as f:
        suricata = yaml.safe_load(f)
    entries = suricata["af-packet"]
    assert [e["interface"] for e in entries] == taps
    assert all(e["threads"] == 1 and e["cluster-type"] == "cluster_flow" for e in entries)
    assert len({e["cluster-id"] for e in entries}) == len(entries), "cluster-id must differ per interface"
    assert suricata["vlan"]["use-for-tracking"] is True
    node = configparser.ConfigParser()
    node.read(os.path.join(here, "zeek-node.cfg"))
    workers = [node[s]["interface"] for s in node.sections() if node[s]["type"] == "worker"]
    assert workers == taps, workers


if __name__ == "__main__":
    run({f.__name__: f for f in [
        tap_flows_keep_both_directions_together, tap_session_vlan_tells_overlapping_sessions_apart,
        stream_read_by_tshark_carries_every_frame, stream_reader_restarted_on_a_fifo,
        reload_keeps_the_feed_running, refused_reload_leaves_the_taps_as_they_were, forward_into_a_second_collector,
        sessions_pick_their_sinks,
        deploy_ids_files_agree]})
