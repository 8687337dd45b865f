#!/usr/bin/env bash
# Wire order (issue 25, item 1): host A downloads a file from B over a veth
# pair, then sends B 20 UDP requests that B answers; mirrortap-sender on A
# mirrors both to mirrortap-collector in C. One tcpdump on A's interface,
# both directions in one capture, is the truth: the collector's pcap must
# hold their frames in the truth's order, and `tshark -z expert` must flag
# no more TCP analysis events on it (spurious retransmissions, ACKed unseen
# segments) than on the truth.
# Twice: offloads off (the frames must be the truth's, byte for byte) and on
# (TSO/GSO out, GRO in: the truth holds super-frames, the mirror the wire's
# segments; the order is compared by direction and ACK number).
# Servers and clients run on one CPU, so every frame is handled there, one after another, and the interface's order is one
# order: on several CPUs the kernel hands two sockets (tcpdump's and the
# sender's) frames it handles at the same moment in either order (measured:
# 17 of 2961 frames in tcpdump's own capture step back in kernel time; the
# sender's ring, 15), and no capture is "the" order between those.
# Every namespace, process and file is made here and removed on exit; every
# wait is bounded.
#
# usage: order_sender.sh BIN_DIR     (exit 77 = skipped: needs root, tshark)
set -euo pipefail

BIN=${1:?usage: order_sender.sh BIN_DIR}
HERE=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3
. "$HERE/netns_lib.sh"
need_root_tools ip tcpdump tshark ethtool curl "$PY"
need_bins "$BIN" mirrortap-sender mirrortap-collector
netns_hosts o order

netns_add_quiet
netns_link_hosts 79
# The mirror path carries jumbo frames, as a VPC's does: nothing is cut.
ip -n "$A" link set ac mtu 9000
ip -n "$C" link set ca mtu 9000

mkdir -p "$WORK/www"
head -c 3000000 /dev/urandom > "$WORK/www/download.bin"
ip netns exec "$B" taskset -c 0 "$PY" -m http.server 8000 --bind 10.79.1.2 --directory "$WORK/www" >"$WORK/http.log" 2>&1 &
PIDS+=($!)
wait_for "web server" sh -c "ip netns exec $B ss -tln | grep -q ':8000'"
# A UDP service that answers each request: the request/response half of the test.
ip netns exec "$B" taskset -c 0 "$PY" -c "
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('10.79.1.2', 7007))
while True:
    data, peer = s.recvfrom(2048); s.sendto(b'response to ' + data, peer)" >"$WORK/udp.log" 2>&1 &
PIDS+=($!)
wait_for "UDP service" sh -c "ip netns exec $B ss -uln | grep -q ':7007'"

run() {  # run MODE: on|off
    local mode=$1 dir="$WORK/$1"
    mkdir -p "$dir/captures"
    for dev in "$A ab" "$B ba"; do
        set -- $dev
        if [ "$mode" = off ]; then
            ip netns exec "$1" ethtool -K "$2" tx off tso off gso off gro off >/dev/null 2>&1
        else
            ip netns exec "$1" ethtool -K "$2" tx on tso on gso on gro on >/dev/null 2>&1
        fi
    done
    ip netns exec "$C" "$BIN/mirrortap-collector" --listen 10.79.2.2:4789 --pcap-dir "$dir/captures" --workers 1 \
        --allow-root >"$dir/collector.log" 2>&1 &
    local coll=$!; PIDS+=($coll)
    WAIT_LOG="$dir/collector.log" wait_for "collector socket" sh -c "ip netns exec $C ss -uln | grep -q 10.79.2.2:4789"
    ip netns exec "$A" tcpdump -i ab -s 0 -B 65536 -U -w "$dir/truth.pcap" "tcp port 8000 or udp port 7007" \
        2>"$dir/tcpdump.log" &
    local td=$!; PIDS+=($td)
    wait_for "tcpdump" grep -q "listening on" "$dir/tcpdump.log"
    ip netns exec "$A" "$BIN/mirrortap-sender" -i ab -t 10.79.2.2 --vni 42 --accept-all --mtu 9000 \
        >"$dir/sender.log" 2>&1 &
    local sender=$!; PIDS+=($sender)
    WAIT_LOG="$dir/sender.log" wait_for "sender" grep -q "capturing on" "$dir/sender.log"
    ip netns exec "$A" taskset -c 0 curl -s --max-time 60 -o "$dir/got.bin" http://10.79.1.2:8000/download.bin
    cmp -s "$dir/got.bin" "$WORK/www/download.bin" || { echo "FAIL: the download itself failed"; exit 1; }
    ip netns exec "$A" taskset -c 0 "$PY" -c "
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(5)
for i in range(20):
    s.sendto(b'request %d ' % i + b'q' * (40 * i), ('10.79.1.2', 7007)); s.recv(2048)"
    sleep 1  # the connection's last frames: through the ring (1 ms blocks) and the collector
    kill -TERM "$sender"; wait "$sender" || { echo "FAIL: sender exited non-zero"; cat "$dir/sender.log"; exit 1; }
    sleep 0.5
    kill -TERM "$coll"; wait "$coll" || true
    kill -INT "$td"; wait "$td" || true
    echo "--- offloads $mode"
    local files=()
    for f in "$dir"/captures/vni-42/*.pcap; do [ -L "$f" ] || files+=("$f"); done
    [ ${#files[@]} -gt 0 ] || { echo "FAIL: the collector wrote nothing"; cat "$dir/sender.log" "$dir/collector.log"; exit 1; }
    local exact=()
    [ "$mode" = off ] && exact=(--exact)
    (cd "$HERE" && "$PY" check_order.py --truth "$dir/truth.pcap" --mirror "${files[@]}" --port 8000 --udp-port 7007 \
        --merged "$dir/mirror.pcap" "${exact[@]}") || { cat "$dir/sender.log"; exit 1; }
}

run off
run on
echo "PASS"
