"""GENEVE from a Gateway Load Balancer (--listen-geneve) end to end: crafted GWLB-shaped datagrams
(GENEVE, GWLB options, the inner IPv4/IPv6 + UDP 4789 + VXLAN mirror packet) to the collector on
loopback; frames read back from the pcaps with tcpdump and tshark, refusals counted by reason with curl."""
import os
import socket
import struct
import subprocess
import time

from harness import (COLLECTOR, Collector, check_identities, free_port, leftovers, run, seq_frame, session_files,
                     tcpdump_frames, tshark_lengths, udp4_frame, udp6_frame, value, vxlan, ethernet, ipv4)


# ---- GWLB-shaped datagrams ----------------------------------------------------

def option(cls, kind, data):
    assert len(data) % 4 == 0
    return struct.pack("!HBB", cls, kind, len(data) // 4) + data


GWLB_TLVS = (option(0x0108, 1, bytes.fromhex("0e1d2c3b4a596877"))    # GWLB endpoint id
             + option(0x0108, 2, bytes.fromhex("00000000cafef00d"))  # attachment id
             + option(0x0108, 3, bytes.fromhex("deadbeef")))         # flow cookie


def options_of(nbytes):
    """Non-critical options of another class filling exactly `nbytes` (a multiple of 4, at most 252)."""
    out = b""
    while len(out) < nbytes:
        data_words = min((nbytes - len(out)) // 4 - 1, 31)
        out += option(0x0123, 0x01, b"\x5a" * (4 * data_words))
    return out


def mirror_packet_v4(vni, frame, src="10.0.1.5", frag=0, proto=17, dport=4789):
    """The VXLAN mirror packet AWS would have sent directly: IPv4, UDP to 4789, VXLAN, the frame."""
    vx = vxlan(vni, frame)
    l4 = struct.pack("!HHHH", 50000, dport, 8 + len(vx), 0) + vx
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(l4), 1, frag, 64, proto, 0,
                     socket.inet_aton(src), socket.inet_aton("10.0.9.9"))
    return ip + l4


def mirror_packet_v6(vni, frame, next_header=17):
    vx = vxlan(vni, frame)
    l4 = struct.pack("!HHHH", 50000, 4789, 8 + len(vx), 0) + vx
    return struct.pack("!IHBB", 0x60000000, len(l4), next_header, 64) + \
        socket.inet_pton(socket.AF_INET6, "fd00::5") + socket.inet_pton(socket.AF_INET6, "fd00::9") + l4


def geneve(options, inner, protocol=0x0800, flags=0, version=0):
    return struct.pack("!BBH", version << 6 | len(options) // 4, flags, protocol) + b"\0" * 4 + options + inner


def malformed():
    """(datagram, reason) for every reason a GENEVE datagram is refused with."""
    good = mirror_packet_v4(9, udp4_frame())
    ihl_below_5 = bytes([0x44]) + good[1:]
    udp_too_long = good[:24] + struct.pack("!H", len(good) - 20 + 1) + good[26:]
    return [
        (b"\x00\x00\x08", "geneve_too_short"),
        (geneve(b"", good, version=1), "geneve_bad_version"),
        (geneve(GWLB_TLVS, good, flags=0x80), "geneve_oam"),
        (bytes([0x3F, 0, 8, 0, 0, 0, 0, 0]) + b"\0" * 100, "geneve_options_too_long"),  # 252 bytes said, 100 there
        (geneve(option(0x0108, 3, b"\0" * 8), good), "geneve_bad_option"),  # a flow cookie of 8 bytes
        (geneve(option(0x0123, 0x80, b""), good, flags=0x40), "geneve_critical_option"),
        (geneve(b"", ethernet(0x0800) + good, protocol=0x6558), "geneve_inner_not_ip"),  # Ethernet inside
        (geneve(b"", good, protocol=0x86DD), "geneve_inner_not_ip"),  # IPv4 called IPv6
        (geneve(b"", ihl_below_5), "geneve_inner_truncated"),
        (geneve(b"", udp_too_long), "geneve_inner_truncated"),
        (geneve(GWLB_TLVS, good[:30]), "geneve_inner_truncated"),
        (geneve(b"", mirror_packet_v4(9, udp4_frame(), frag=0x2000)), "geneve_inner_fragment"),
        (geneve(b"", mirror_packet_v6(9, udp4_frame(), next_header=44), protocol=0x86DD), "geneve_inner_fragment"),
        (geneve(b"", mirror_packet_v4(9, udp4_frame(), proto=6)), "geneve_inner_not_udp_4789"),
        (geneve(b"", mirror_packet_v4(9, udp4_frame(), dport=4790)), "geneve_inner_not_udp_4789"),
        (geneve(GWLB_TLVS, mirror_packet_v4(9, b"\x02" * 13)), "inner_too_short"),  # the VXLAN packet's own
    ]


class GeneveCollector(Collector):
    """The collector with --listen-geneve on a port of its own."""

    def __init__(self, *args, **kwargs):
        self.geneve_port = free_port()
        super().__init__("--listen-geneve", f"127.0.0.1:{self.geneve_port}", *args, **kwargs)

    def send_geneve(self, datagrams):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.0.1", 0))
            for i, d in enumerate(datagrams):
                s.sendto(d, ("127.0.0.1", self.geneve_port))
                if i % 200 == 199:
                    time.sleep(0.002)  # stay well inside the receive buffer


# ---- tests ------------------------------------------------------------------------

def gwlb_frames_are_written_exactly():
    frames = [
        (501, GWLB_TLVS, udp4_frame(sport=1), 4),
        (501, b"", udp4_frame(sport=2), 4),
        (501, options_of(4), udp4_frame(sport=3, vlans=[(0x8100, 100)]), 4),
        (501, options_of(128), udp4_frame(sport=4), 4),
        (502, options_of(252), udp6_frame(), 4),
        (502, GWLB_TLVS, udp4_frame(sport=5, payload=bytes(range(256)) * 30), 6),  # over IPv6, 7.7 KB frame
        (16777215, GWLB_TLVS + options_of(60), ethernet(0x0806) + b"\0" * 28, 4),
    ]
    good = [geneve(opts, mirror_packet_v4(v, f) if ip == 4 else mirror_packet_v6(v, f), 0x0800 if ip == 4 else 0x86DD)
            for v, opts, f, ip in frames]
    bad = malformed()
    not_allowed = geneve(GWLB_TLVS, mirror_packet_v4(77, udp4_frame()))
    direct = vxlan(501, udp4_frame(sport=99))  # VXLAN on --listen still works beside it
    with GeneveCollector("--allow-vni", "9,501-502,16777215",
                         config="sessions:\n  - {vni: 501, name: web}\n") as c:
        assert "GENEVE on 127.0.0.1:" in c.read_stderr()
        c.send_geneve(good + [d for d, _ in bad] + [not_allowed])
        c.wait_settled(len(good) + len(bad) + 1)
        c.send([direct])
        m = c.wait_settled(len(good) + len(bad) + 2)
        check_identities(m)
        for reason in {r for _, r in bad}:
            want = sum(1 for _, r in bad if r == reason)
            assert value(m, "mirrortap_decap_errors_total", reason=reason) == want, \
                (reason, value(m, "mirrortap_decap_errors_total", reason=reason))
        assert value(m, "mirrortap_decap_errors_total", reason="vni_not_allowed") == 1
        assert value(m, "mirrortap_decap_errors_total") == len(bad) + 1
        assert value(m, "mirrortap_session_packets_total", session="web", vni="501") == 5
        assert value(m, "mirrortap_sink_written_packets_total", sink="pcap") == len(good) + 1
        # GWLB health-checks the target group over HTTP: /healthz on --metrics-listen answers it.
        assert c.http_status("/healthz") == 200
        assert c.stop() == 0
        names = {501: "web", 502: "vni-502", 16777215: "vni-16777215"}
        assert sorted(os.listdir(c.pcap_dir)) == sorted(names.values()), os.listdir(c.pcap_dir)
        for vni, name in names.items():
            files = session_files(c.pcap_dir, name)
            assert len(files) == 1, files
            want = [f for v, _, f, _ in frames if v == vni] + ([udp4_frame(sport=99)] if vni == 501 else [])
            got = tcpdump_frames(files[0])
            assert got == want, f"{name}: frames differ ({len(got)} read, {len(want)} sent)"
            assert tshark_lengths(files[0]) == [(len(f), len(f)) for f in want]
        assert leftovers(c.pcap_dir) == []


def two_workers_keep_geneve_sessions_whole_and_in_order():
    """Eight VNIs over two workers: GENEVE steered by the inner VNI, to the worker VXLAN uses for it."""
    sessions, per_session = 8, 300
    with GeneveCollector(workers=2) as c:
        # Option lengths differ by session, so steering must walk them.
        datagrams = [geneve(options_of(4 * (s % 4) * 5) + GWLB_TLVS, mirror_packet_v4(100 + s, seq_frame(s, i)))
                     for i in range(per_session) for s in range(sessions)]
        c.send_geneve(datagrams)
        c.wait_settled(len(datagrams))
        # The same VNIs directly over VXLAN: the same sessions, not new ones in the other worker.
        c.send([vxlan(100 + s, seq_frame(s, per_session)) for s in range(sessions)])
        m = c.wait_settled(len(datagrams) + sessions)
        check_identities(m)
        assert value(m, "mirrortap_sessions") == sessions
        for s in range(sessions):
            assert value(m, "mirrortap_session_packets_total", vni=str(100 + s)) == per_session + 1
        assert c.stop() == 0
        for s in range(sessions):
            seqs = []
            for f in session_files(c.pcap_dir, f"vni-{100 + s}"):
                seqs += [struct.unpack("!I", fr[46:50])[0] for fr in tcpdump_frames(f)]
            assert seqs == list(range(per_session + 1)), f"session {s} out of order or incomplete"


def sessions_split_by_the_mirror_source():
    """With vni_and_source, the source is the inner packet's (the mirror source), not GWLB's node."""
    with GeneveCollector("--session-key", "vni_and_source") as c:
        c.send_geneve([geneve(GWLB_TLVS, mirror_packet_v4(7, udp4_frame(), src="10.0.1.5"))] * 3)
        c.send_geneve([geneve(GWLB_TLVS, mirror_packet_v4(7, udp4_frame(), src="10.0.1.6"))] * 4)
        m = c.wait_settled(7)
        check_identities(m)
        assert value(m, "mirrortap_session_packets_total", session="vni-7-10.0.1.5") == 3
        assert value(m, "mirrortap_session_packets_total", session="vni-7-10.0.1.6") == 4
        assert c.stop() == 0


def geneve_on_the_vxlan_port_is_refused():
    out = subprocess.run([COLLECTOR, "--listen", "127.0.0.1:4789", "--listen-geneve", "127.0.0.1:4789",
                          "--check-config"], capture_output=True, text=True, timeout=30)
    assert out.returncode != 0, out
    assert "listen_geneve" in out.stderr and "port of its own" in out.stderr, out.stderr
    ok = subprocess.run([COLLECTOR, "--listen-geneve", "[::1]:6081", "--check-config"],
                        capture_output=True, text=True, timeout=30)
    assert ok.returncode == 0, ok.stderr


if __name__ == "__main__":
    run({f.__name__: f for f in (gwlb_frames_are_written_exactly, two_workers_keep_geneve_sessions_whole_and_in_order,
                                 sessions_split_by_the_mirror_source, geneve_on_the_vxlan_port_is_refused)})
