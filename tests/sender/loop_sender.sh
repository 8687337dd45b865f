#!/usr/bin/env bash
# Never fragment, never loop. A talks to B over a link with MTU 1400, and
# mirrors to a collector in C over another link with MTU 1400, capturing on
# both links (the mirror path too) with an accept-all session and the default
# --mtu 1500. Pings larger than the MTU (IPv4 and IPv6 fragments) and bulk
# TCP with full-size segments: each original frame (tcpdump on A's link to B)
# must reach the collector exactly once, cut to the route's MTU, and no mirror
# may be our own VXLAN or a piece of it. Once with an IPv4 target, once with
# an IPv6 one. Then direction comes from the kernel, not from MAC addresses:
# a frame received with A's own source MAC is ingress, one A sends with a
# foreign source MAC is egress, and a frame for another host that reaches a
# promiscuous interface is not mirrored at all. Bounded: every wait is polled
# with a limit, the traffic is a fixed amount.
#
# usage: loop_sender.sh BIN_DIR     (exit 77 = skipped: needs root)
set -euo pipefail

BIN=${1:?usage: loop_sender.sh BIN_DIR}
HERE=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root for network namespaces"; exit 77; }
for tool in ip tcpdump ping "$PY"; do
    command -v "$tool" >/dev/null || { echo "FAIL: $tool not installed"; exit 1; }
done
. "$HERE/netns_lib.sh"
need_bins "$BIN" mirrortap-collector mirrortap-sender
netns_hosts l loop

MTU=1400
netns_add_quiet
ip -n "$A" link add ab mtu $MTU type veth peer name ba mtu $MTU netns "$B"
ip -n "$A" link add ac mtu $MTU type veth peer name ca mtu $MTU netns "$C"
ip -n "$A" addr add 10.78.1.1/24 dev ab; ip -n "$A" addr add fd00:78:1::1/64 dev ab nodad
ip -n "$B" addr add 10.78.1.2/24 dev ba; ip -n "$B" addr add fd00:78:1::2/64 dev ba nodad
ip -n "$A" addr add 10.78.2.1/24 dev ac; ip -n "$A" addr add fd00:78:2::1/64 dev ac nodad
ip -n "$C" addr add 10.78.2.2/24 dev ca; ip -n "$C" addr add fd00:78:2::2/64 dev ca nodad
for l in "$A ab" "$A ac" "$B ba" "$C ca"; do set -- $l; ip -n "$1" link set "$2" up; done
# Wire-size frames in the truth too, so that each original compares with one
# mirror (the sender cuts the aggregates offloads make: README).
if command -v ethtool >/dev/null; then
    for l in "$A ab" "$A ac" "$B ba"; do set -- $l; ip netns exec "$1" ethtool -K "$2" tso off gso off gro off >/dev/null 2>&1 || true; done
fi
sleep 1

# B sinks bulk TCP on port 9000, one connection at a time, for the whole test.
ip netns exec "$B" "$PY" -c "
import socket
s = socket.socket(socket.AF_INET6); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('::', 9000)); s.listen(4)
while True:
    c, _ = s.accept()
    while c.recv(65536): pass
    c.close()" >"$WORK/sink.log" 2>&1 &
PIDS+=($!)
wait_for "TCP sink" sh -c "ip netns exec $B ss -tln | grep -q ':9000'"

bulk() {  # bulk DST: 300 KB of TCP to B, full-size segments
    ip netns exec "$A" "$PY" -c "
import socket, sys
dst = sys.argv[1]
s = socket.socket(socket.AF_INET6 if ':' in dst else socket.AF_INET); s.settimeout(5)
s.connect((dst, 9000)); s.sendall(b'b' * 300000); s.shutdown(socket.SHUT_WR)
while s.recv(65536): pass" "$1"
}

round() {  # round NAME TARGET_ADDR LISTEN MAX_INNER
    local name=$1 target=$2 listen=$3 max_inner=$4
    mkdir -p "$WORK/$name/captures"
    ip netns exec "$C" "$BIN/mirrortap-collector" --listen "$listen" --pcap-dir "$WORK/$name/captures" --workers 1 \
        --allow-root >"$WORK/$name/collector.log" 2>&1 &
    local coll=$!; PIDS+=($coll)
    wait_for "collector socket" sh -c "ip netns exec $C ss -uln | grep -q ':4789'"
    # Default --mtu 1500: the route's 1400 must win.
    ip netns exec "$A" "$BIN/mirrortap-sender" -i ab -i ac -t "$target" --vni 5 --accept-all \
        >"$WORK/$name/sender.log" 2>&1 &
    local sender=$!; PIDS+=($sender)
    wait_for "sender" grep -q "capturing on" "$WORK/$name/sender.log"
    ip netns exec "$A" tcpdump -i ab -s 0 -U -w "$WORK/$name/truth.pcap" 2>"$WORK/$name/tcpdump.log" &
    local td=$!; PIDS+=($td)
    wait_for "tcpdump" grep -q "listening on" "$WORK/$name/tcpdump.log"

    ip netns exec "$A" ping -c 3 -i 0.2 -s 3000 -q 10.78.1.2 >/dev/null
    ip netns exec "$A" ping -6 -c 3 -i 0.2 -s 3000 -q fd00:78:1::2 >/dev/null
    bulk 10.78.1.2
    bulk fd00:78:1::2
    sleep 1

    kill -INT "$td"; wait "$td" || true
    sleep 0.5
    kill -TERM "$sender"; wait "$sender" || { echo "FAIL: sender exited non-zero"; cat "$WORK/$name/sender.log"; exit 1; }
    sleep 0.5
    kill -TERM "$coll"; wait "$coll" || true
    echo "--- $name: sender log"; cat "$WORK/$name/sender.log"
    "$PY" "$HERE/check_no_loop.py" --truth "$WORK/$name/truth.pcap" --sessions-dir "$WORK/$name/captures" \
        --target "$target" --max-inner "$max_inner" || { echo "FAIL: $name"; exit 1; }
}

# AWS: 54 bytes around the inner IP packet over IPv4, 74 over IPv6; 14 of them the inner Ethernet header.
round ipv4 10.78.2.2 10.78.2.2:4789 $((MTU - 40))
round ipv6 fd00:78:2::2 "[fd00:78:2::2]:4789" $((MTU - 60))

# --- direction from the kernel ------------------------------------------------
ethernet_udp() {  # ethernet_udp NS IFACE SRC_MAC DST_MAC SRC_IP DST_IP DPORT: 3 frames through a packet socket
    ip netns exec "$1" "$PY" -c "
import socket, struct, sys
iface, smac, dmac, sip, dip, dport = sys.argv[1:7]
mac = lambda t: bytes.fromhex(t.replace(':', ''))
payload = b'direction'
udp = struct.pack('!HHHH', 40000, int(dport), 8 + len(payload), 0) + payload
ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(udp), 1, 0x4000, 64, 17, 0,
                 socket.inet_aton(sip), socket.inet_aton(dip))
s = sum(struct.unpack('!10H', ip)); s = (s & 0xFFFF) + (s >> 16); s = (s & 0xFFFF) + (s >> 16)
ip = ip[:10] + struct.pack('!H', ~s & 0xFFFF) + ip[12:]
p = socket.socket(socket.AF_PACKET, socket.SOCK_RAW); p.bind((iface, 0))
for _ in range(3): p.send(mac(dmac) + mac(smac) + b'\x08\x00' + ip + udp)" "$2" "$3" "$4" "$5" "$6" "$7"
}
cat >"$WORK/direction.yaml" <<'YAML'
sessions:
  - session_number: 1
    virtual_network_id: 6
    filter:
      ingress:
        - {rule_number: 1, rule_action: accept, protocol: 17, destination_port_range: {from_port: 7777, to_port: 7778}}
      egress:
        - {rule_number: 1, rule_action: accept, protocol: 17, destination_port_range: {from_port: 7779, to_port: 7779}}
YAML
A_MAC=$(ip netns exec "$A" cat /sys/class/net/ab/address)
B_MAC=$(ip netns exec "$B" cat /sys/class/net/ba/address)
ip -n "$A" link set ab promisc on   # as a bridge member would be: frames for other hosts reach it
mkdir -p "$WORK/direction/captures"
ip netns exec "$C" "$BIN/mirrortap-collector" --listen 10.78.2.2:4789 --pcap-dir "$WORK/direction/captures" \
    --workers 1 --allow-root >"$WORK/direction/collector.log" 2>&1 &
COLL=$!; PIDS+=($COLL)
wait_for "collector socket" sh -c "ip netns exec $C ss -uln | grep -q ':4789'"
ip netns exec "$A" "$BIN/mirrortap-sender" -c "$WORK/direction.yaml" -i ab -t 10.78.2.2 >"$WORK/direction/sender.log" 2>&1 &
SENDER=$!; PIDS+=($SENDER)
wait_for "sender" grep -q "capturing on" "$WORK/direction/sender.log"
ethernet_udp "$B" ba "$A_MAC" "$A_MAC" 10.78.1.2 10.78.1.1 7777           # received, with A's own source MAC
ethernet_udp "$B" ba "$B_MAC" 02:00:00:00:00:99 10.78.1.2 10.78.1.9 7778  # for another host
ethernet_udp "$A" ab 02:00:00:00:00:98 "$B_MAC" 10.78.1.1 10.78.1.2 7779  # sent, with a foreign source MAC
sleep 1
kill -TERM "$SENDER"; wait "$SENDER" || true
sleep 0.5
kill -TERM "$COLL"; wait "$COLL" || true
count() { for f in "$WORK"/direction/captures/vni-6/*.pcap; do [ -L "$f" ] || tcpdump -nr "$f" "udp dst port $1" 2>/dev/null; done | wc -l; }
IN=$(count 7777) OTHER=$(count 7778) OUT=$(count 7779)
echo "direction: ingress with A's source MAC $IN/3 mirrored, for another host $OTHER/0, egress with a foreign MAC $OUT/3"
if [ "$IN" -ne 3 ] || [ "$OTHER" -ne 0 ] || [ "$OUT" -ne 3 ]; then
    echo "FAIL: direction must be the kernel's, and frames for other hosts never mirrored"
    cat "$WORK/direction/sender.log"; exit 1
fi
echo "PASS"
