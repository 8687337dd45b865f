#!/usr/bin/env bash
# Every frame as the wire carried it (issue 25, item 3): with segmentation
# offloads on, host A sends UDP with UDP_SEGMENT (IPv4, and IPv6 with a
# destination options header), TCP over IPv6 with a destination options
# header, and UDP over IPv6 with a hop-by-hop header to B over a veth pair;
# mirrortap-sender on A mirrors to mirrortap-collector in C over a jumbo-frame
# path (nothing is cut). check_segments.py reads the collector's pcaps back
# (tshark for checksums and headers): each aggregate must arrive as the
# datagrams or segments the wire carried. Every namespace, process and file is
# made here and removed on exit; every wait is bounded.
#
# usage: segments_sender.sh BIN_DIR     (exit 77 = skipped: needs root, tshark)
set -euo pipefail

BIN=${1:?usage: segments_sender.sh BIN_DIR}
HERE=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3
. "$HERE/netns_lib.sh"
need_root_tools ip tcpdump tshark ethtool "$PY"
need_bins "$BIN" mirrortap-sender mirrortap-collector
netns_hosts g segments

netns_add_quiet
netns_link_hosts 81
ip -n "$A" addr add fd00:81:1::1/64 dev ab nodad
ip -n "$B" addr add fd00:81:1::2/64 dev ba nodad
ip -n "$A" link set ac mtu 9000
ip -n "$C" link set ca mtu 9000
for dev in "$A ab" "$B ba"; do
    set -- $dev
    ip netns exec "$1" ethtool -K "$2" tx on sg on tso on gso on tx-udp-segmentation on >/dev/null 2>&1 || true
done
# A VXLAN tunnel between A and B over ab (UDP 4790): its TCP aggregates reach
# the capture whole, segmented by their inner header.
ip -n "$A" link add vx0 type vxlan id 7 remote 10.81.1.2 dstport 4790 dev ab
ip -n "$B" link add vx0 type vxlan id 7 remote 10.81.1.1 dstport 4790 dev ba
ip -n "$A" addr add 10.181.0.1/24 dev vx0; ip -n "$B" addr add 10.181.0.2/24 dev vx0
ip -n "$A" link set vx0 up; ip -n "$B" link set vx0 up

# B takes what A sends: UDP on 9000, 9001, 9003, 9005, TCP streams on 9002 and 9004.
ip netns exec "$B" "$PY" -c "
import socket, threading
for port in (9000, 9001, 9003, 9005):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); s.bind(('::', port))
    threading.Thread(target=lambda s=s: [s.recv(65536) for _ in iter(int, 1)], daemon=True).start()
def stream(port):
    t = socket.socket(socket.AF_INET6, socket.SOCK_STREAM); t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    t.bind(('::', port)); t.listen(1)
    c, _ = t.accept()
    while c.recv(65536): pass
streams = [threading.Thread(target=stream, args=(port,)) for port in (9002, 9004)]
for t in streams: t.start()
for t in streams: t.join()
" >"$WORK/receiver.log" 2>&1 &
PIDS+=($!)
wait_for "receiver" sh -c "ip netns exec $B ss -tln | grep -q ':9004'"

mkdir -p "$WORK/captures"
ip netns exec "$C" "$BIN/mirrortap-collector" --listen 10.81.2.2:4789 --pcap-dir "$WORK/captures" --workers 1 \
    --allow-root >"$WORK/collector.log" 2>&1 &
COLL=$!; PIDS+=($COLL)
WAIT_LOG="$WORK/collector.log" wait_for "collector socket" sh -c "ip netns exec $C ss -uln | grep -q 10.81.2.2:4789"
ip netns exec "$A" tcpdump -i ab -s 0 -B 65536 -U -w "$WORK/truth.pcap" "portrange 9000-9003 or ip6 or udp port 4790" \
    2>"$WORK/tcpdump.log" &
TD=$!; PIDS+=($TD)
wait_for "tcpdump" grep -q "listening on" "$WORK/tcpdump.log"
ip netns exec "$A" "$BIN/mirrortap-sender" -i ab -t 10.81.2.2 --vni 43 --accept-all --mtu 9000 \
    >"$WORK/sender.log" 2>&1 &
SENDER=$!; PIDS+=($SENDER)
WAIT_LOG="$WORK/sender.log" wait_for "sender" grep -q "capturing on" "$WORK/sender.log"

ip netns exec "$A" "$PY" - <<'EOF'
import socket
UDP_SEGMENT = 103  # linux/udp.h
def pattern(port, n): return bytes((i + port) % 251 for i in range(n))
# A destination options header: next header and length 0 (8 bytes), a PadN of 4 bytes.
dstopts = bytes([0, 0, 1, 4, 0, 0, 0, 0])
u4 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u4.setsockopt(socket.SOL_UDP, UDP_SEGMENT, 1000)
u4.sendto(pattern(9000, 5500), ("10.81.1.2", 9000))
u6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
u6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_DSTOPTS, dstopts)
u6.setsockopt(socket.SOL_UDP, UDP_SEGMENT, 1200)
u6.sendto(pattern(9001, 4000), ("fd00:81:1::2", 9001))
h6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
h6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_HOPOPTS, dstopts)
h6.sendto(pattern(9003, 300), ("fd00:81:1::2", 9003))
t6 = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
t6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_DSTOPTS, dstopts)
t6.settimeout(30)
t6.connect(("fd00:81:1::2", 9002))
t6.sendall(pattern(9002, 60000))
t6.shutdown(socket.SHUT_WR)
t6.recv(1)
t6.close()
ut = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
ut.setsockopt(socket.SOL_UDP, UDP_SEGMENT, 1000)
ut.sendto(pattern(9005, 3500), ("10.181.0.2", 9005))
t4 = socket.create_connection(("10.181.0.2", 9004), timeout=30)
t4.sendall(pattern(9004, 60000))
t4.shutdown(socket.SHUT_WR)
t4.recv(1)
t4.close()
EOF
sleep 1  # the last frames: through the ring (1 ms blocks) and the collector
kill -TERM "$SENDER"; wait "$SENDER" || { echo "FAIL: sender exited non-zero"; cat "$WORK/sender.log"; exit 1; }
sleep 0.5
kill -TERM "$COLL"; wait "$COLL" || true
kill -INT "$TD"; wait "$TD" || true
cat "$WORK/sender.log"

FILES=()
for f in "$WORK"/captures/vni-43/*.pcap; do [ -L "$f" ] || FILES+=("$f"); done
[ ${#FILES[@]} -gt 0 ] || { echo "FAIL: the collector wrote nothing"; cat "$WORK/collector.log"; exit 1; }
(cd "$HERE" && "$PY" check_segments.py --mirror "${FILES[@]}" --truth "$WORK/truth.pcap" --merged "$WORK/mirror.pcap")
echo "PASS"
