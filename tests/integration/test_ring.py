"""The AF_PACKET ring source (--capture-interface) end to end, on a veth pair between two
network namespaces the test makes: the collector's (rg0, 10.199.0.1, fd00:199::1) and a peer's
(rg1, 10.199.0.2, fd00:199::2) that sends the VXLAN datagrams, so that they cross a real
interface into the ring. Results read back with tcpdump, tshark and curl, as for the socket source."""
import ctypes
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

from harness import (COLLECTOR, SKIP, Collector, check_identities, free_port, leftovers, run, seq_frame, session_files,
                     tcpdump_frames, tshark_lengths, udp4_frame, value, vxlan)
from test_collector import EVERY_KIND_SESSIONS, MALFORMED, every_frame_kind, every_frame_kind_was_written

IN_NETNS = "MIRRORTAP_RING_NETNS"
PEER_NETNS = "MIRRORTAP_RING_PEER"
IFACE, PEER_IFACE = "rg0", "rg1"
HOST4, PEER4 = "10.199.0.1", "10.199.0.2"
HOST6, PEER6 = "fd00:199::1", "fd00:199::2"


def ip(*args):
    subprocess.run(["ip"] + list(args), check=True, timeout=10)


def on_a_veth_pair(test):
    """Runs the test again inside the collector's namespace, its veth peer in a second one."""
    def wrapper():
        if os.environ.get(IN_NETNS):
            return test()
        if os.geteuid() != 0:
            print("SKIP: network namespaces and packet sockets need root")
            sys.exit(SKIP)
        ns, peer = f"r2ring-{os.getpid()}", f"r2ringp-{os.getpid()}"
        made = []
        try:
            for name in (ns, peer):
                ip("netns", "add", name)
                made.append(name)
            ip("link", "add", IFACE, "netns", ns, "type", "veth", "peer", "name", PEER_IFACE, "netns", peer)
            for name, iface, a4, a6 in ((ns, IFACE, HOST4, HOST6), (peer, PEER_IFACE, PEER4, PEER6)):
                ip("-n", name, "link", "set", "lo", "up")
                ip("-n", name, "addr", "add", f"{a4}/24", "dev", iface)
                ip("-n", name, "addr", "add", f"{a6}/64", "dev", iface, "nodad")
                ip("-n", name, "link", "set", iface, "up")
            out = subprocess.run(["ip", "netns", "exec", ns, sys.executable, os.path.abspath(__file__),
                                  test.__name__], env=dict(os.environ, **{IN_NETNS: ns, PEER_NETNS: peer}),
                                 timeout=170)
            assert out.returncode == 0, f"{test.__name__} failed inside {ns}"
        finally:
            for name in made:
                subprocess.run(["ip", "netns", "del", name], timeout=10)
    wrapper.__name__ = test.__name__
    return wrapper


def peer_socket(family=socket.AF_INET, kind=socket.SOCK_DGRAM):
    """A socket in the peer's namespace: made there (setns), used from here."""
    libc = ctypes.CDLL(None, use_errno=True)
    clone_newnet = 0x40000000
    own = os.open("/proc/self/ns/net", os.O_RDONLY)
    there = os.open(f"/run/netns/{os.environ[PEER_NETNS]}", os.O_RDONLY)
    try:
        assert libc.setns(there, clone_newnet) == 0, os.strerror(ctypes.get_errno())
        try:
            return socket.socket(family, kind)
        finally:
            assert libc.setns(own, clone_newnet) == 0, os.strerror(ctypes.get_errno())
    finally:
        os.close(own)
        os.close(there)


def send_from_peer(port, datagrams, family=socket.AF_INET, pace_every=200):
    """Sends over the veth pair, paced as Collector.send is."""
    host = HOST6 if family == socket.AF_INET6 else HOST4
    with peer_socket(family) as s:
        for i, d in enumerate(datagrams):
            s.sendto(d, (host, port))
            if pace_every and i % pace_every == pace_every - 1:
                time.sleep(0.002)


def ring_collector(*args, family=socket.AF_INET, **kw):
    port = free_port()
    listen = f"[{HOST6}]:{port}" if family == socket.AF_INET6 else f"{HOST4}:{port}"
    c = Collector("--capture-interface", IFACE, *args, listen=listen, **kw)
    c.port = port
    return c


def ring_drops(m):
    return value(m, "mirrortap_socket_drops_total")


def udp_socket_counters(port):
    """(queued bytes, drops) of the UDP sockets on `port` in this namespace, from /proc/net/udp{,6}."""
    queued = drops = 0
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        with open(table) as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                if int(fields[1].rsplit(":", 1)[1], 16) == port:
                    queued += int(fields[4].split(":")[1], 16)
                    drops += int(fields[12])
    return queued, drops


# ---- the socket source's checks, on the ring ------------------------------------------------------

@on_a_veth_pair
def ring_frames_are_written_exactly():
    """Every kind of frame, the 9000-byte one in IPv4 fragments on the 1500-byte veth (reassembled
    before the ring), and malformed datagrams: written exactly or refused by reason, with the
    kernel's receive time of each from the ring."""
    cases = every_frame_kind()
    config = "sessions:\n  - {vni: 501, name: web}\n"
    with ring_collector(config=config) as c:
        before = time.time()
        send_from_peer(c.port, [vxlan(v, f) for v, f in cases] + [d for d, _ in MALFORMED])
        m = c.wait_settled(len(cases) + len(MALFORMED))
        after = time.time()
        assert ring_drops(m) == 0
        every_frame_kind_was_written(c, m, cases)
        for name in EVERY_KIND_SESSIONS.values():
            times = tshark_times(session_files(c.pcap_dir, name)[0])
            assert all(before <= t <= after for t in times), (before, times, after)
            assert times == sorted(times)


def tshark_times(path):
    out = subprocess.run(["tshark", "-r", path, "-T", "fields", "-e", "frame.time_epoch"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return [float(x) for x in out.stdout.split()]


def seqs_of(files):
    return [struct.unpack("!I", fr[46:50])[0] for f in files for fr in tcpdump_frames(f)]


@on_a_veth_pair
def ring_rotation_makes_valid_files():
    count = 3000
    with ring_collector("--rotate-size", "32K") as c:
        send_from_peer(c.port, [vxlan(9, seq_frame(9, i)) for i in range(count)])
        m = c.wait_settled(count)
        check_identities(m)
        assert c.stop() == 0
        files = session_files(c.pcap_dir, "vni-9")
        assert len(files) >= 10, len(files)
        assert all(os.path.getsize(f) <= 32 * 1024 for f in files)
        assert seqs_of(files) == list(range(count)), "records lost, repeated or reordered across files"
        assert value(m, "mirrortap_pcap_files_rotated_total") == len(files) - 1
        assert leftovers(c.pcap_dir) == []


@on_a_veth_pair
def ring_two_workers_keep_session_order():
    """The fanout steers by VNI: each session whole and in order though two rings take the traffic."""
    sessions, per_session = 8, 400
    with ring_collector(workers=2) as c:
        datagrams = [vxlan(100 + s, seq_frame(s, i)) for i in range(per_session) for s in range(sessions)]
        send_from_peer(c.port, datagrams)
        m = c.wait_settled(len(datagrams))
        check_identities(m)
        assert ring_drops(m) == 0
        assert c.stop() == 0
        for s in range(sessions):
            assert seqs_of(session_files(c.pcap_dir, f"vni-{100 + s}")) == list(range(per_session)), \
                f"session {s} out of order or incomplete"


@on_a_veth_pair
def ring_sighup_reloads():
    """SIGHUP: a new allowlist applies to what the ring brings next, files are finished and
    new ones begin; the ring itself (restart-only) keeps running."""
    with ring_collector("--rotate-seconds", "0", config="allowed_vnis: []\n") as c:
        send_from_peer(c.port, [vxlan(3, seq_frame(3, i)) for i in range(10)])
        c.wait_settled(10)
        c.reload("allowed_vnis: [3]\n")
        c.wait_stderr("reloaded")
        send_from_peer(c.port, [vxlan(3, seq_frame(3, i)) for i in range(10, 20)] + [vxlan(4, udp4_frame())])
        m = c.wait_settled(21)
        check_identities(m)
        assert value(m, "mirrortap_decap_errors_total", reason="vni_not_allowed") == 1
        assert c.stop() == 0
        files = session_files(c.pcap_dir, "vni-3")
        assert [len(tcpdump_frames(f)) for f in files] == [10, 10], files
        assert seqs_of(files) == list(range(20))


@on_a_veth_pair
def ring_sigterm_drains_what_the_kernel_took():
    """SIGTERM right after the last datagram is sent, nothing awaited: whatever the ring holds
    (the block the kernel has not yet retired among it) is written before the exit."""
    count = 2000
    with ring_collector("--rotate-seconds", "0", workers=2) as c:
        send_from_peer(c.port, [vxlan(7 + i % 2, seq_frame(7, i)) for i in range(count)])
        assert c.stop() == 0
        assert f"received {count} datagrams, 0 refused" in c.read_stderr(), c.read_stderr()
        written = seqs_of(session_files(c.pcap_dir, "vni-7")) + seqs_of(session_files(c.pcap_dir, "vni-8"))
        assert sorted(written) == list(range(count)), f"{len(written)} of {count} written"
        assert leftovers(c.pcap_dir) == []


@on_a_veth_pair
def ring_ipv6_listen_takes_both_families():
    """[::]:PORT takes IPv4 and IPv6, as the socket does; a specific IPv6 address only itself."""
    port = free_port()
    with Collector("--capture-interface", IFACE, listen=f"[::]:{port}") as c:
        send_from_peer(port, [vxlan(66, udp4_frame())] * 5, family=socket.AF_INET6)
        send_from_peer(port, [vxlan(67, udp4_frame())] * 3)
        m = c.wait_settled(8)
        check_identities(m)
        assert value(m, "mirrortap_session_packets_total", vni="66") == 5
        assert value(m, "mirrortap_session_packets_total", vni="67") == 3
        assert c.stop() == 0
    # An IPv6 datagram over the veth's MTU arrives in fragments: the ring cannot reassemble
    # IPv6, so it counts the first (the only one that names the port), and takes nothing.
    with Collector("--capture-interface", IFACE, listen=f"[::]:{port}") as c:
        send_from_peer(port, [vxlan(70, udp4_frame(payload=b"f" * 3000))], family=socket.AF_INET6)
        for _ in range(100):  # bounded: 5 s
            m = c.metrics()
            if value(m, "mirrortap_socket_drops_total", reason="outer_fragment") >= 1:
                break
            time.sleep(0.05)
        assert value(m, "mirrortap_socket_drops_total", reason="outer_fragment") == 1, m
        assert value(m, "mirrortap_socket_drops_total", reason="queue_full") == 0
        assert value(m, "mirrortap_received_packets_total") == 0
        assert c.stop() == 0
    with ring_collector(family=socket.AF_INET6) as c:
        send_from_peer(c.port, [vxlan(68, udp4_frame())] * 4, family=socket.AF_INET6)
        send_from_peer(c.port, [vxlan(69, udp4_frame())] * 2)  # IPv4 to the port: not for [fd00:199::1]
        m = c.wait_settled(4)
        time.sleep(0.2)
        m = c.metrics()
        assert value(m, "mirrortap_received_packets_total") == 4
        assert value(m, "mirrortap_session_packets_total", vni="68") == 4
        assert c.stop() == 0


def recv_thread_states(pid):
    states = []
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/comm") as f:
            if not f.read().startswith("mt-recv-"):
                continue
        with open(f"/proc/{pid}/task/{tid}/stat") as f:
            states.append(f.read().rsplit(")", 1)[1].split()[0])
    return states


@on_a_veth_pair
def the_interface_going_away_leaves_the_workers_idle():
    """The capture interface deleted under a running collector: the rings' sockets report
    ENETDOWN once, /healthz turns red; the workers take it and sleep in poll as when idle (a worker that kept
    polling an error would spin: always running, never sleeping), and SIGTERM still ends the
    collector with every datagram it got written."""
    with ring_collector("--rotate-seconds", "0", workers=2) as c:
        send_from_peer(c.port, [vxlan(30 + i % 2, seq_frame(30, i)) for i in range(400)])
        c.wait_settled(400)
        assert c.http_status("/healthz") == 200
        ip("link", "del", IFACE)
        time.sleep(0.3)
        sleeping = samples = 0
        for _ in range(40):  # bounded: 2 s
            states = recv_thread_states(c.proc.pid)
            assert len(states) == 2, states
            sleeping += states.count("S")
            samples += len(states)
            time.sleep(0.05)
        assert sleeping >= samples * 3 // 4, f"receive workers asleep in only {sleeping} of {samples} samples"
        # Nothing can arrive any more: health says so (the NLB and the group replace it).
        assert c.http_status("/healthz") == 503
        assert "capture interface is down or gone" in subprocess.run(
            ["curl", "-s", f"http://127.0.0.1:{c.metrics_port}/healthz"], capture_output=True, text=True).stdout
        assert c.stop() == 0
        written = seqs_of(session_files(c.pcap_dir, "vni-30")) + seqs_of(session_files(c.pcap_dir, "vni-31"))
        assert sorted(written) == list(range(400))


# ---- what the ring must leave alone -----------------------------------------------------------

@on_a_veth_pair
def no_icmp_unreachable_and_other_udp_is_untouched():
    """While the ring takes the port: no ICMP port unreachable reaches the peer (tcpdump there), no
    datagram is queued on the port's UDP socket (each is dropped by its filter, counted in
    /proc/net/udp), and UDP to another port on the same interface reaches a plain socket, all of
    it, the collector counting none of it. Once the collector is gone, the same datagrams draw
    ICMP unreachable: what the peer's tcpdump sees when there is something to see."""
    count, others = 300, 200
    other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    other.bind((HOST4, 0))
    other.settimeout(0.5)
    other_port = other.getsockname()[1]
    tmp = tempfile.mkdtemp(prefix="r2ring-icmp-")
    icmp = os.path.join(tmp, "icmp.pcap")
    with ring_collector() as c:
        dump = subprocess.Popen(["ip", "netns", "exec", os.environ[PEER_NETNS], "tcpdump", "-i", PEER_IFACE, "-n", "--immediate-mode",
                                 "-U", "-w", icmp, UNREACHABLE], stderr=subprocess.PIPE, text=True)
        wait_for_listening(dump)
        send_from_peer(c.port, [vxlan(5, seq_frame(5, i)) for i in range(count)])
        send_from_peer(other_port, [b"other %d" % i for i in range(others)])
        got = []
        try:
            while True:
                got.append(other.recv(100))
        except socket.timeout:
            pass
        assert sorted(got) == sorted(b"other %d" % i for i in range(others)), f"{len(got)} of {others}"
        m = c.wait_settled(count)
        check_identities(m)
        assert value(m, "mirrortap_received_packets_total") == count
        queued, dropped = udp_socket_counters(c.port)
        assert queued == 0 and dropped == count, (queued, dropped)
        assert c.stop() == 0
        assert len(tcpdump_frames(session_files(c.pcap_dir, "vni-5")[0])) == count
        time.sleep(0.2)
        stop_dump(dump)
        assert tcpdump_frames(icmp) == [], "ICMP unreachable left the host while the ring took the port: " + \
            subprocess.run(["tcpdump", "-r", icmp, "-n"], capture_output=True, text=True).stdout
    # The control: no collector, no socket on the port.
    dump = subprocess.Popen(["ip", "netns", "exec", os.environ[PEER_NETNS], "tcpdump", "-i", PEER_IFACE, "-n", "--immediate-mode",
                             "-U", "-w", icmp, UNREACHABLE], stderr=subprocess.PIPE, text=True)
    wait_for_listening(dump)
    send_from_peer(c.port, [vxlan(5, seq_frame(5, 0))] * 3, pace_every=1)
    time.sleep(0.3)
    stop_dump(dump)
    assert len(tcpdump_frames(icmp)) >= 1, "the control drew no ICMP unreachable: the check above proves nothing; " + \
        subprocess.run(["nstat", "-az", "IcmpOut*", "UdpNoPorts"], capture_output=True, text=True).stdout + dump.stderr.read()
    other.close()


# ICMP destination unreachable (IPv4 type 3, IPv6 type 1), not the neighbour discovery around it.
UNREACHABLE = "icmp[icmptype] == icmp-unreach or (icmp6 and ip6[40] == 1)"


def wait_for_listening(dump):
    line = dump.stderr.readline()  # "listening on rg1, ..." once the capture is open
    assert "listening on" in line, line


def stop_dump(dump):
    dump.send_signal(signal.SIGINT)
    dump.wait(timeout=10)


def missing_interface_is_a_clear_error():
    tmp = tempfile.mkdtemp()
    out = subprocess.run([COLLECTOR, "--capture-interface", "r2nosuch0", "--listen", "127.0.0.1:0", "--pcap-dir",
                          tmp, "--allow-root"], capture_output=True, text=True, timeout=10)
    lines = out.stderr.strip().splitlines()
    assert out.returncode != 0 and out.returncode < 128, out.returncode
    assert len(lines) == 1 and lines[0].startswith("mirrortap-collector: "), out.stderr
    assert "capture interface 'r2nosuch0'" in lines[0] and "No such device" in lines[0], lines[0]
    # Unprivileged: the interface exists, the packet socket is refused, and the message says what is needed.
    os.chmod(tmp, 0o777)
    out = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", COLLECTOR,
                          "--capture-interface", "lo", "--listen", "127.0.0.1:0", "--pcap-dir", tmp],
                         capture_output=True, text=True, timeout=10)
    lines = out.stderr.strip().splitlines()
    assert out.returncode != 0 and len(lines) == 1 and "CAP_NET_RAW" in lines[0], out.stderr
    out = subprocess.run([COLLECTOR, "--capture-interface", "r2nosuch0", "--listen-geneve", "127.0.0.1:6081",
                          "--check-config"], capture_output=True, text=True, timeout=10)
    assert out.returncode != 0 and "GENEVE" in out.stderr, out.stderr


# ---- what the kernel's UDP receive path refuses, the ring refuses ----------------------------------

def inet_checksum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def hostile_ipv4(src, payload, dst=HOST4, port=None, ip_checksum="good", total=None, udp_checksum="zero",
                 udp_length=None, frag=0, ident=0x4242, options=b"", udp_bytes=None):
    """An IPv4/UDP packet made by hand, every field open to being wrong."""
    udp_len = 8 + len(payload) if udp_length is None else udp_length
    header = struct.pack("!HHHH", 40000, port, udp_len, 0) + payload
    if udp_checksum != "zero":
        pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, 17, len(header))
        good = inet_checksum(pseudo + header) or 0xFFFF
        header = header[:6] + struct.pack("!H", good if udp_checksum == "good" else good ^ 0x5A5A) + header[8:]
    body = header if udp_bytes is None else udp_bytes
    ihl = 5 + len(options) // 4
    length = 4 * ihl + len(body) if total is None else total
    ip = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, length, ident, frag, 64, 17, 0, socket.inet_aton(src),
                     socket.inet_aton(dst)) + options
    good = inet_checksum(ip)
    ip = ip[:10] + struct.pack("!H", good if ip_checksum == "good" else good ^ 0x0101) + ip[12:]
    return ip + body


def snmp(table, path="/proc/net/snmp"):
    """The kernel's counters of this namespace: {name: value} of `table` (Udp in /proc/net/snmp,
    IpExt in /proc/net/netstat)."""
    with open(path) as f:
        rows = [line.split() for line in f if line.startswith(table + ":")]
    return dict(zip(rows[0][1:], (int(v) for v in rows[1][1:])))


@on_a_veth_pair
def hostile_datagrams_are_refused_as_the_kernel_does():
    """Hand-made IPv4/UDP frames sent raw on the veth pair (rp_filter on, as on a Debian host):
    a bad header checksum, IP and UDP lengths that disagree with each other or the frame, a bad
    UDP checksum, martian sources (loopback, multicast, broadcasts, 0/8, our own address) and
    fragments, destinations that are martian or not ours, both sources listening on 0.0.0.0 (the
    default). The socket source never receives what the kernel drops (its own counters say why);
    the ring source receives exactly the same datagrams and counts each refusal by reason."""
    with open(f"/proc/sys/net/ipv4/conf/{IFACE}/rp_filter", "w") as f:
        f.write("1")
    with open(f"/sys/class/net/{IFACE}/address") as f:
        host_mac = bytes.fromhex(f.read().strip().replace(":", ""))
    good_payload = vxlan(31, udp4_frame())
    big_payload = vxlan(32, udp4_frame(payload=b"F" * 2000))  # two fragments on the 1500-byte veth

    def cases(port):
        def v4(src=PEER4, payload=good_payload, **kw):
            return hostile_ipv4(src, payload, port=port, **kw)
        udp_whole = v4()[20:]  # the good datagram's UDP header and payload
        big = v4(payload=big_payload, udp_checksum="good")[20:]
        first_part, rest = big[:1480], big[1480:]
        return [
            ("good", [v4()], None),
            ("good, UDP checksum", [v4(udp_checksum="good")], None),
            ("good, IP options", [v4(options=b"\x01\x01\x01\x00")], None),
            ("good, in two fragments", [v4(udp_bytes=first_part, total=20 + len(first_part), frag=0x2000, ident=7),
                                        v4(udp_bytes=rest, total=20 + len(rest), frag=1480 // 8, ident=7)], None),
            ("first fragment alone", [v4(udp_bytes=first_part, total=20 + len(first_part), frag=0x2000, ident=8)],
             "never"),
            ("bad IP header checksum", [v4(ip_checksum="bad")], "bad_ip_checksum"),
            ("an IPv4 frame whose header says version 6", [b"\x65" + v4()[1:]], "bad_ip_header"),
            ("IP length past the frame", [v4(total=20 + len(udp_whole) + 64)], "bad_length"),
            # The frame holds the whole datagram; the IP header says it ends 10 bytes short of the UDP length.
            ("UDP length past the IP length", [v4(total=20 + len(udp_whole) - 10)], "bad_length"),
            ("UDP length below 8", [v4(udp_length=4)], "bad_length"),
            ("bad UDP checksum", [v4(udp_checksum="bad")], "bad_udp_checksum"),
            ("loopback source", [v4(src="127.0.0.5")], "martian_source"),
            ("multicast source", [v4(src="224.0.0.5")], "martian_source"),
            ("limited broadcast source", [v4(src="255.255.255.255")], "martian_source"),
            ("0/8 source", [v4(src="0.1.2.3")], "martian_source"),
            ("our own address as source", [v4(src=HOST4)], "martian_source"),
            ("the subnet's broadcast as source", [v4(src="10.199.0.255")], "martian_source"),
            ("loopback destination", [v4(dst="127.0.0.1")], "martian_destination"),
            ("0/8 destination", [v4(dst="0.0.0.5")], "martian_destination"),
            ("a destination that is not ours", [v4(dst="10.199.0.77")], "not_for_this_host"),
            ("the subnet's broadcast as destination", [v4(dst="10.199.0.255")], None),
        ]

    def send_raw(packets):
        with peer_socket(socket.AF_PACKET, socket.SOCK_RAW) as s:
            s.bind((PEER_IFACE, 0))
            for p in packets:
                s.send(host_mac + bytes.fromhex("020000000099") + b"\x08\x00" + p)

    accepted = sum(len(packets) if why is None else 0 for _, packets, why in cases(1)) - 1  # two fragments, one datagram
    on_vni_31 = accepted - 1  # all but the fragmented one
    expected_refused = {}
    for _, _, why in cases(1):
        if why not in (None, "never"):
            expected_refused[why] = expected_refused.get(why, 0) + 1

    received = {}
    for source in ("socket", "ring"):
        port = free_port()
        args = ["--capture-interface", IFACE] if source == "ring" else []
        with Collector(*args, listen=f"0.0.0.0:{port}") as c:
            ip_before, udp_before = snmp("IpExt", "/proc/net/netstat"), snmp("Udp")
            ip_hdr_before = snmp("Ip")["InHdrErrors"]
            all_cases = cases(port)
            for _, packets, _ in all_cases:
                send_raw(packets)
            send_raw([hostile_ipv4(PEER4, good_payload, port=port)])  # last: once it is in, all before it are
            for _ in range(200):  # bounded: 10 s
                m = c.metrics()
                refused = value(m, "mirrortap_ring_refused_total")
                if value(m, "mirrortap_received_packets_total") >= accepted + 1 and \
                        (source == "socket" or refused >= sum(expected_refused.values())):
                    break
                time.sleep(0.05)
            check_identities(m)
            received[source] = value(m, "mirrortap_received_packets_total")
            assert value(m, "mirrortap_session_packets_total", vni="31") == on_vni_31 + 1, (source, m)
            assert value(m, "mirrortap_session_packets_total", vni="32") == 1, (source, m)
            assert value(m, "mirrortap_decap_errors_total") == 0, (source, m)
            by_reason = {dict(l)["reason"]: v for (n, l), v in m.items() if n == "mirrortap_ring_refused_total"}
            if source == "ring":
                assert {r: v for r, v in by_reason.items() if v} == expected_refused, by_reason
            else:
                assert not any(by_reason.values()), by_reason
                # The kernel's own account of what it dropped before the socket.
                ip, udp = snmp("IpExt", "/proc/net/netstat"), snmp("Udp")
                grew = {f"Ip{k}": ip[k] - ip_before[k] for k in ("InCsumErrors", "InTruncatedPkts")}
                grew["IpInHdrErrors"] = snmp("Ip")["InHdrErrors"] - ip_hdr_before
                grew.update({f"Udp{k}": udp[k] - udp_before[k] for k in ("InErrors", "InCsumErrors")})
                # The version and the checksum are header errors; the checksum one is also counted as such.
                assert grew == {"IpInCsumErrors": 1, "IpInTruncatedPkts": 1, "IpInHdrErrors": 2, "UdpInErrors": 3,
                                "UdpInCsumErrors": 1}, grew
            assert value(m, "mirrortap_socket_drops_total") == 0, (source, m)
            assert c.stop() == 0
    assert received["socket"] == received["ring"] == accepted + 1, received


def hostile_ipv6(src, payload, port, udp_checksum="good", payload_length=None, udp_length=None, version=6,
                 dst=HOST6):
    """An IPv6/UDP packet made by hand."""
    udp_len = 8 + len(payload) if udp_length is None else udp_length
    udp = struct.pack("!HHHH", 40000, port, udp_len, 0) + payload
    if udp_checksum != "zero":
        pseudo = socket.inet_pton(socket.AF_INET6, src) + socket.inet_pton(socket.AF_INET6, dst) + \
            struct.pack("!I3xB", len(udp), 17)
        good = inet_checksum(pseudo + udp) or 0xFFFF
        udp = udp[:6] + struct.pack("!H", good if udp_checksum == "good" else good ^ 0x5A5A) + udp[8:]
    length = len(udp) if payload_length is None else payload_length
    return struct.pack("!IHBB", version << 28, length, 17, 64) + socket.inet_pton(socket.AF_INET6, src) + \
        socket.inet_pton(socket.AF_INET6, dst) + udp


@on_a_veth_pair
def hostile_ipv6_datagrams_are_refused_as_the_kernel_does():
    """The same over IPv6 (ip6_rcv_core, __udp6_lib_rcv), both sources on [::]: a zero UDP checksum
    (RFC 8200 forbids it and the kernel drops it), a bad one, lengths past the frame or the
    payload, loopback and multicast sources, an IPv4-mapped source (delivered), a version field
    that is not 6, a loopback destination and one not ours. Both sources receive the same
    datagrams; the ring says why it refused each of the others."""
    with open(f"/sys/class/net/{IFACE}/address") as f:
        host_mac = bytes.fromhex(f.read().strip().replace(":", ""))
    payload = vxlan(41, udp4_frame())

    def cases(port):
        def v6(src=PEER6, **kw):
            return hostile_ipv6(src, payload, port, **kw)
        whole = len(v6()) - 40
        return [
            ("good", v6(), None),
            ("zero UDP checksum", v6(udp_checksum="zero"), "bad_udp_checksum"),
            ("bad UDP checksum", v6(udp_checksum="bad"), "bad_udp_checksum"),
            ("payload length past the frame", v6(payload_length=whole + 64), "bad_length"),
            ("UDP length past the payload length", v6(payload_length=whole - 10), "bad_length"),
            ("loopback source", v6(src="::1"), "martian_source"),
            ("multicast source", v6(src="ff02::1"), "martian_source"),
            # Linux delivers an IPv4-mapped source (it refused it once, 2019, and no longer does): so does the ring.
            ("IPv4-mapped source", v6(src="::ffff:10.199.0.2"), None),
            ("an IPv6 frame whose header says version 4", v6(version=4), "bad_ip_header"),
            ("loopback destination", v6(dst="::1"), "martian_destination"),
            ("a destination that is not ours", v6(dst="fd00:199::77"), "not_for_this_host"),
        ]

    expected = {}
    for _, _, why in cases(1):
        if why:
            expected[why] = expected.get(why, 0) + 1
    delivered = 1 + sum(1 for _, _, why in cases(1) if why is None)  # the last one too
    received = {}
    for source in ("socket", "ring"):
        port = free_port(family=socket.AF_INET6, host="::1")
        args = ["--capture-interface", IFACE] if source == "ring" else []
        with Collector(*args, listen=f"[::]:{port}") as c:
            with peer_socket(socket.AF_PACKET, socket.SOCK_RAW) as s:
                s.bind((PEER_IFACE, 0))
                for _, packet, _ in cases(port) + [("last", hostile_ipv6(PEER6, payload, port), None)]:
                    s.send(host_mac + bytes.fromhex("020000000099") + b"\x86\xdd" + packet)
            for _ in range(200):  # bounded: 10 s
                m = c.metrics()
                if value(m, "mirrortap_received_packets_total") >= delivered and \
                        (source == "socket" or value(m, "mirrortap_ring_refused_total") >= sum(expected.values())):
                    break
                time.sleep(0.05)
            check_identities(m)
            received[source] = value(m, "mirrortap_received_packets_total")
            by_reason = {dict(l)["reason"]: v for (n, l), v in m.items() if n == "mirrortap_ring_refused_total" and v}
            assert by_reason == (expected if source == "ring" else {}), (source, by_reason)
            assert value(m, "mirrortap_session_packets_total", vni="41") == delivered, (source, m)
            assert c.stop() == 0
    assert received == {"socket": delivered, "ring": delivered}, received


if __name__ == "__main__":
    run({f.__name__: f for f in [
        ring_frames_are_written_exactly, ring_rotation_makes_valid_files, ring_two_workers_keep_session_order,
        ring_sighup_reloads, ring_sigterm_drains_what_the_kernel_took, ring_ipv6_listen_takes_both_families,
        no_icmp_unreachable_and_other_udp_is_untouched, missing_interface_is_a_clear_error,
        the_interface_going_away_leaves_the_workers_idle, hostile_datagrams_are_refused_as_the_kernel_does,
        hostile_ipv6_datagrams_are_refused_as_the_kernel_does]})
