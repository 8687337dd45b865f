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


if __name__ == "__main__":
    run({f.__name__: f for f in [
        ring_frames_are_written_exactly, ring_rotation_makes_valid_files, ring_two_workers_keep_session_order,
        ring_sighup_reloads, ring_sigterm_drains_what_the_kernel_took, ring_ipv6_listen_takes_both_families,
        no_icmp_unreachable_and_other_udp_is_untouched, missing_interface_is_a_clear_error,
        the_interface_going_away_leaves_the_workers_idle]})
