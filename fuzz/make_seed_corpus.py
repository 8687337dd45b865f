#!/usr/bin/env python3
"""Writes the seed corpus of every fuzz target: OUTDIR/<target>/<name>.

Seeds are well-formed inputs that reach deep into each parser (valid VXLAN
datagrams of every inner shape, every config key, AWS JSON of both
describe-* commands); the fuzzer mutates from there. Deterministic: the same
tree gives the same seeds. Generated into the build directory, never checked in
(the inputs worth keeping are fuzz/regressions/).

usage: fuzz/make_seed_corpus.py OUTDIR
"""
import json
import random
import struct
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


# ---- decap: VXLAN datagrams as AWS Traffic Mirroring sends them --------------

MAC_A = bytes.fromhex("0a1b2c3d4e01")
MAC_B = bytes.fromhex("0a1b2c3d4e02")
V4_A, V4_B = bytes([10, 0, 1, 5]), bytes([10, 0, 2, 9])
V6_A = bytes.fromhex("fd000000000000010000000000000005")
V6_B = bytes.fromhex("fd000000000000020000000000000009")


def vxlan(vni, frame, flags=0x08):
    return bytes([flags, 0, 0, 0]) + vni.to_bytes(3, "big") + b"\0" + frame


def ethernet(ether_type, payload, vlans=()):
    tags = b"".join(struct.pack(">HH", tpid, vid) for tpid, vid in vlans)
    return MAC_B + MAC_A + tags + struct.pack(">H", ether_type) + payload


def ipv4(proto, l4, frag=0, options=b""):
    ihl = 5 + len(options) // 4
    total = ihl * 4 + len(l4)
    header = struct.pack(">BBHHHBBH4s4s", 0x40 | ihl, 0, total, 1, frag, 64, proto, 0, V4_A, V4_B)
    return header + options + l4


def ipv6(next_header, l4):
    return struct.pack(">IHBB16s16s", 0x60000000, len(l4), next_header, 64, V6_A, V6_B) + l4


def tcp(sport=40000, dport=443, payload=b"GET / HTTP/1.1\r\n\r\n"):
    return struct.pack(">HHIIBBHHH", sport, dport, 1, 0, 0x50, 0x18, 65535, 0, 0) + payload


def udp(sport=5353, dport=53, payload=b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"):
    return struct.pack(">HHHH", sport, dport, 8 + len(payload), 0) + payload


def icmp(kind=8):
    return struct.pack(">BBHHH", kind, 0, 0, 1, 1) + b"ping" * 8


def decap_seeds():
    seeds = {
        "ipv4-tcp": vxlan(501, ethernet(0x0800, ipv4(6, tcp()))),
        "ipv4-udp": vxlan(502, ethernet(0x0800, ipv4(17, udp()))),
        "ipv4-icmp": vxlan(503, ethernet(0x0800, ipv4(1, icmp()))),
        "ipv4-sctp": vxlan(504, ethernet(0x0800, ipv4(132, struct.pack(">HHI", 3868, 3868, 0)))),
        "ipv4-options-tcp": vxlan(505, ethernet(0x0800, ipv4(6, tcp(), options=b"\x01\x01\x01\x00"))),
        "ipv4-fragment-later": vxlan(506, ethernet(0x0800, ipv4(17, b"\xaa" * 64, frag=0x00b9))),
        "ipv4-fragment-first": vxlan(506, ethernet(0x0800, ipv4(17, udp(), frag=0x2000))),
        "ipv6-tcp": vxlan(601, ethernet(0x86DD, ipv6(6, tcp()))),
        "ipv6-udp": vxlan(602, ethernet(0x86DD, ipv6(17, udp()))),
        "ipv6-icmpv6": vxlan(603, ethernet(0x86DD, ipv6(58, icmp(128)))),
        "vlan-ipv4-tcp": vxlan(701, ethernet(0x0800, ipv4(6, tcp()), vlans=[(0x8100, 100)])),
        "qinq-ipv6-udp": vxlan(702, ethernet(0x86DD, ipv6(17, udp()), vlans=[(0x88A8, 10), (0x8100, 20)])),
        "old-qinq-ipv4": vxlan(703, ethernet(0x0800, ipv4(6, tcp()), vlans=[(0x9100, 7), (0x8100, 8)])),
        "arp": vxlan(801, ethernet(0x0806, bytes.fromhex("0001080006040001") + MAC_A + V4_A + bytes(6) + V4_B)),
        "lldp": vxlan(802, ethernet(0x88CC, b"\x02\x07\x04" + MAC_A + b"\x00\x00")),
        "minimal-frame": vxlan(803, ethernet(0x0800, b"")),
        "other-flags-set": vxlan(804, ethernet(0x0800, ipv4(6, tcp())), flags=0xff),
        "no-i-flag": vxlan(805, ethernet(0x0800, ipv4(6, tcp())), flags=0x00),
        "vni-max": vxlan(0xFFFFFF, ethernet(0x0800, ipv4(6, tcp()))),
        "jumbo-9001": vxlan(901, ethernet(0x0800, ipv4(6, tcp(payload=b"j" * (9001 - 14 - 20 - 20))))),
        # IPv6 extension headers, walked to the upper layer (hop-by-hop, routing, fragment, dest options).
        "ipv6-hbh-routing-dstopts-tcp": vxlan(604, ethernet(0x86DD, ipv6(0, bytes([43, 0, 1, 4, 0, 0, 0, 0]) +
                                                                     bytes([60, 0, 0, 0, 0, 0, 0, 0]) +
                                                                     bytes([6, 0, 1, 4, 0, 0, 0, 0]) + tcp()))),
        "ipv6-fragment-first-udp": vxlan(605, ethernet(0x86DD, ipv6(44, struct.pack(">BBHI", 17, 0, 1, 7) + udp()))),
        "ipv6-fragment-later": vxlan(606, ethernet(0x86DD, ipv6(44, struct.pack(">BBHI", 17, 0, 0x5a8, 7) +
                                                                 b"\xbb" * 32))),
        "four-vlan-tags-ipv4": vxlan(704, ethernet(0x0800, ipv4(17, udp()),
                                                    vlans=[(0x88A8, 1), (0x8100, 2), (0x8100, 3), (0x8100, 4)])),
    }
    # Truncated as a session's packet length cuts them: the IP length says more.
    for name in ("ipv4-tcp", "ipv6-tcp", "qinq-ipv6-udp"):
        for cut in (64, 40):
            seeds[f"{name}-cut-{cut}"] = seeds[name][: 8 + cut]
    return seeds


# ---- geneve: GENEVE from a Gateway Load Balancer, the VXLAN packet inside ----

def udp_to_4789(vxlan_packet):
    return struct.pack(">HHHH", 50000, 4789, 8 + len(vxlan_packet), 0) + vxlan_packet


def geneve(options, inner, protocol=0x0800, flags=0):
    return bytes([len(options) // 4, flags]) + struct.pack(">H", protocol) + bytes(4) + options + inner


def geneve_option(cls, kind, data):
    return struct.pack(">HBB", cls, kind, len(data) // 4) + data


GWLB_OPTIONS = (geneve_option(0x0108, 1, bytes.fromhex("0e1d2c3b4a596877"))
                + geneve_option(0x0108, 2, bytes.fromhex("00000000cafef00d"))
                + geneve_option(0x0108, 3, bytes.fromhex("deadbeef")))


def geneve_seeds():
    mirror4 = ipv4(17, udp_to_4789(vxlan(501, ethernet(0x0800, ipv4(6, tcp())))))
    mirror6 = ipv6(17, udp_to_4789(vxlan(601, ethernet(0x86DD, ipv6(17, udp())))))
    return {
        "gwlb-ipv4": geneve(GWLB_OPTIONS, mirror4),
        "gwlb-ipv6": geneve(GWLB_OPTIONS, mirror6, protocol=0x86DD),
        "no-options-ipv4": geneve(b"", mirror4),
        "other-options-ipv4": geneve(geneve_option(0x0123, 0x01, bytes(124)) + geneve_option(0xFFFF, 0x7F, b""), mirror4),
        "critical-known-ipv4": geneve(geneve_option(0x0108, 0x83, b"\1\2\3\4"), mirror4, flags=0x40),
        "ipv4-options-inner": geneve(GWLB_OPTIONS, ipv4(17, udp_to_4789(vxlan(7, ethernet(0x0806, bytes(28)))),
                                                        options=b"\x01\x01\x01\x00")),
    }


# ---- collector config ---------------------------------------------------------

def collector_config_seeds():
    seeds = {"example.yaml": (ROOT / "config/example.yaml").read_text()}
    seeds.update({
        "listen-v6.yaml": "listen: '[::1]:4789'\nworkers: 2\nsession_key: vni_and_source\n",
        "sessions.yaml": "sessions:\n  - {vni: 501, name: web}\n  - vni: 502\n    name: db.2\n",
        "pcap.yaml": "pcap:\n  enabled: false\n  dir: /var/lib/mirrortap\n  rotate_size: 512M\n"
                     "  rotate_seconds: 300\n  retain_files: 10\n  retain_bytes: 50G\n  buffer_size: 1M\n"
                     "  min_free_bytes: 2G\n  file_mode: '0600'\n  group: adm\n",
        "allow.yaml": "allowed_sources: 10.0.0.0/8, 2001:db8::/32\nallowed_vnis: 1-100, 4096\n",
        "limits.yaml": "rcvbuf: 256M\nsnaplen: 9216\nmax_sessions: 4\nmetrics_listen: 0.0.0.0:9478\n"
                       "user: nobody\nallow_root: yes\n",
        "ids-feed.yaml": "tap: [mt0, mt1]\ntap_session_vlan: true\nstream: unix:/run/mt.sock\nstream_required: on\n"
                         "forward: '[fd00::5]:4789'\nsessions:\n  - {vni: 5, name: a, vlan: 42, sinks: [pcap, tap]}\n"
                         "  - {vni: 6, name: b, sinks: 'stream, forward'}\n",
        "durations.yaml": "pcap:\n  rotate_seconds: 5m\n  rotate_size: 2T\n  flush_interval_ms: 0\n",
        "auth.yaml": "metrics_auth:\n  username: prom\n  password_file: /etc/hostname\n"
                     "  bearer_token_file: /etc/hostname\n",
        # The same bytes also run as a command line, arguments split at NUL.
        "command-line": "--listen\0[::1]:4789\0--allow-vni=1-9,12\0--no-pcap\0--tap\0mt0\0--rotate-seconds\0"
                        "1h\0--stream\0-\0--min-free\01G",
    })
    return seeds


# ---- sender config ------------------------------------------------------------

def sender_config_seeds():
    seeds = {
        "example.yaml": (ROOT / "sender/example.yaml").read_text(),
        "e2e.yaml": (ROOT / "tests/sender/data/e2e.yaml").read_text(),
    }
    seeds.update({
        "minimal.yaml": "interface: eth0\ntarget: collector.example.com\nsessions:\n"
                        "  - {session_number: 1, virtual_network_id: 7, filter: {egress: [], ingress: []}}\n",
        "imported.yaml": "interface: [eth0, eth1]\ntarget: '[fd00::1]:4789'\naws_filter_files: [filters.json]\n"
                         "sessions:\n  - {session_number: 2, virtual_network_id: 8,"
                         " traffic_mirror_filter_id: tmf-0123456789abcdef0}\n",
        "rules.yaml": "sessions:\n  - session_number: 32766\n    virtual_network_id: 16777215\n"
                      "    packet_length: 14\n    filter:\n      ingress:\n"
                      "        - {rule_number: 1, rule_action: reject, protocol: udp,"
                      " source_cidr_block: 10.0.0.0/8, destination_cidr_block: '::/0',"
                      " source_port_range: {from_port: 0, to_port: 1023},"
                      " destination_port_range: {from_port: 53, to_port: 53}, description: \"no dns\"}\n"
                      "        - {rule_number: 32766, rule_action: accept, protocol: all}\n",
        "rate.yaml": "max_rate: {packets_per_second: 20000, bits_per_second: 100000000}\nmtu: 9001\n"
                     "batch_size: 1024\ncapture_buffer_bytes: 64M\nsend_buffer_bytes: 8M\n"
                     "resolve_interval_seconds: 86400\nmetrics_listen: 127.0.0.1:9101\n",
        "settings-forms.yaml": "max_rate: 5kpps, 1Gbps\ninterface: 'eth0, eth1'\nresolve_interval_seconds: 5m\n"
                               "poll_interval_usec: 0\nmetrics_listen: '[::1]:9101'\n",
        # The fuzzer also reads its input as a command line, words split at spaces.
        "command-line.txt": "-i eth0 --interface=eth1,eth2 -t [fd00::1]:4790 -B 8M --mtu 9000 --max-rate 5kpps,1Gbps "
                            "--resolve-seconds 2m --poll-usec 0 --metrics-listen 127.0.0.1:9101 --vni 42 "
                            "--session-number 7 --packet-length 128 --accept-all --import-aws-filter f.json "
                            "--local-mac 02:00:00:00:00:01 --check-config --explain x.pcap -c s.yaml",
    })
    return seeds


# ---- AWS describe-traffic-mirror-filters JSON --------------------------------

def aws_rule(direction, number, action, **fields):
    rule = {"TrafficMirrorFilterRuleId": f"tmfr-{number:017x}", "TrafficMirrorFilterId": "tmf-0123456789abcdef0",
            "TrafficDirection": direction, "RuleNumber": number, "RuleAction": action}
    rule.update(fields)
    return rule


def aws_import_seeds():
    seeds = {"describe-traffic-mirror-filters.json":
             (ROOT / "tests/sender/data/describe-traffic-mirror-filters.json").read_text()}
    rules = [
        aws_rule("ingress", 100, "reject", Protocol=6, DestinationPortRange={"FromPort": 22, "ToPort": 22},
                 SourceCidrBlock="0.0.0.0/0", DestinationCidrBlock="10.0.0.0/16", Description="no ssh"),
        aws_rule("egress", 200, "accept", Protocol=17, SourcePortRange={"FromPort": 1024, "ToPort": 65535},
                 SourceCidrBlock="2001:db8::/32", DestinationCidrBlock="::/0"),
        aws_rule("egress", 300, "accept", Protocol=0, SourceCidrBlock="0.0.0.0/0", DestinationCidrBlock="0.0.0.0/0"),
    ]
    seeds["describe-traffic-mirror-filter-rules.json"] = json.dumps({"TrafficMirrorFilterRules": rules}, indent=2)
    seeds["filters-network-services.json"] = json.dumps({"TrafficMirrorFilters": [{
        "TrafficMirrorFilterId": "tmf-0123456789abcdef0",
        "IngressFilterRules": [rules[0]], "EgressFilterRules": rules[1:],
        "NetworkServices": ["amazon-dns"], "Description": "seed", "Tags": [{"Key": "k", "Value": "v"}]}]})
    seeds["filter-without-rules.json"] = json.dumps({"TrafficMirrorFilters": [{
        "TrafficMirrorFilterId": "tmf-empty", "IngressFilterRules": [], "EgressFilterRules": []}]})
    # Escapes as JSON encoders write them: \/ and surrogate pairs (ensure_ascii).
    seeds["escapes.json"] = json.dumps({"TrafficMirrorFilters": [{
        "TrafficMirrorFilterId": "tmf-esc", "EgressFilterRules": [
            aws_rule("egress", 1, "accept", Description="caf\u00e9 \U0001F600 a/b")]}]}).replace("/", "\\/")
    return seeds


# ---- sender filter: structured bytes, read by FuzzInput ----------------------

def sender_filter_seeds():
    rng = random.Random(8)
    return {f"random-{n:02d}": bytes(rng.randrange(256) for _ in range(rng.choice((16, 64, 256, 1024))))
            for n in range(16)}


# ---- flow prune: a flow key and frame fields read by FuzzInput, then an index tail ----

INDEX_LINE = ('{"session":"web","vni":501,"collector":"c1","file":"web-20261201T061300Z-000001.pcap",'
              '"file_first_ns":1,"file_last_ns":2,"file_packets":1,"file_bytes":100,"index_complete":true,'
              '"first_ns":1,"last_ns":2,"packets":1,"bytes":60,"first_offset":24,"end_offset":100,'
              '"ether_type":2048,"vlans":[5],"ip_version":4,"protocol":6,"src":"10.0.0.1","dst":"10.0.0.2",'
              '"src_port":40000,"dst_port":443,"fragments":false,"ip6_ext":false}\n')


def flow_prune_seeds():
    rng = random.Random(14)
    seeds = {f"random-{n:02d}": bytes(rng.randrange(256) for _ in range(rng.choice((32, 64, 128))))
             for n in range(12)}
    for n in range(4):
        seeds[f"with-index-{n}"] = bytes(rng.randrange(256) for _ in range(64)) + INDEX_LINE.encode()
    return seeds


TARGETS = {
    "decap": decap_seeds,
    "geneve": geneve_seeds,
    "collector_config": collector_config_seeds,
    "sender_config": sender_config_seeds,
    "sender_filter": sender_filter_seeds,
    "aws_import": aws_import_seeds,
    "flow_prune": flow_prune_seeds,
}


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__.strip().splitlines()[-1])
    out = Path(sys.argv[1])
    for target, make in TARGETS.items():
        d = out / target
        d.mkdir(parents=True, exist_ok=True)
        for old in d.iterdir():
            old.unlink()
        seeds = make()
        for name, data in seeds.items():
            (d / name).write_bytes(data.encode() if isinstance(data, str) else data)
        print(f"{target}: {len(seeds)} seeds in {d}")


if __name__ == "__main__":
    main()
