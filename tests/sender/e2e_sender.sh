#!/usr/bin/env bash
# End to end: host A talks to B over a veth pair (TCP, UDP, ICMP, IPv4 and
# IPv6); mirrortap-sender on A mirrors to mirrortap-collector in C over a
# second veth pair. tcpdump on A's interface is the truth; check_mirror.py
# demands that each session's pcap holds exactly what AWS semantics assign it.
# Then: the sender capturing on the mirror path itself must not mirror its
# own VXLAN. Every namespace, process and file is made here and removed on exit.
#
# usage: e2e_sender.sh BIN_DIR     (exit 77 = skipped: needs root)
set -euo pipefail

BIN=${1:?usage: e2e_sender.sh BIN_DIR}
HERE=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root for network namespaces"; exit 77; }
for tool in ip tcpdump curl ping "$PY"; do
    command -v "$tool" >/dev/null || { echo "SKIP: $tool not installed"; exit 77; }
done

# The collector is another room's work; wait a little for it to appear.
for _ in $(seq 1 60); do [ -x "$BIN/mirrortap-collector" ] && break; sleep 5; done
[ -x "$BIN/mirrortap-collector" ] || { echo "FAIL: $BIN/mirrortap-collector not built"; exit 1; }
. "$HERE/netns_lib.sh"
need_bins "$BIN" mirrortap-sender
netns_hosts e e2e

# Foreground helpers only: a background job must be `ip netns exec ... &`
# itself, so that $! is the process and not a subshell around it.
inA() { ip netns exec "$A" "$@"; }
inB() { ip netns exec "$B" "$@"; }
inC() { ip netns exec "$C" "$@"; }


# --- the three hosts --------------------------------------------------------
netns_add_quiet
ip -n "$A" link add ab type veth peer name ba netns "$B"
ip -n "$A" link add ac type veth peer name ca netns "$C"
ip -n "$A" addr add 10.77.1.1/24 dev ab
ip -n "$A" addr add fd00:77:1::1/64 dev ab nodad
ip -n "$B" addr add 10.77.1.2/24 dev ba
ip -n "$B" addr add fd00:77:1::2/64 dev ba nodad
ip -n "$A" addr add 10.77.2.1/24 dev ac
ip -n "$C" addr add 10.77.2.2/24 dev ca
for l in "$A ab" "$A ac" "$B ba" "$C ca"; do set -- $l; ip -n "$1" link set "$2" up; done
sleep 1  # let link-up chatter pass; the marker window catches any that doesn't

# --- collector in C, web server in B ----------------------------------------
mkdir -p "$WORK/www" "$WORK/captures"
head -c 300 /dev/zero | tr '\0' 'm' > "$WORK/www/small.txt"
ip netns exec "$C" "$BIN/mirrortap-collector" --listen 10.77.2.2:4789 --pcap-dir "$WORK/captures" --workers 1 \
    --allow-root >"$WORK/collector.log" 2>&1 &
COLL1=$!; PIDS+=($COLL1)
wait_for "collector socket" sh -c "ip netns exec $C ss -uln | grep -q 10.77.2.2:4789"
ip netns exec "$B" "$PY" -m http.server 8000 --bind :: --directory "$WORK/www" >"$WORK/http.log" 2>&1 &
PIDS+=($!)
wait_for "web server" sh -c "ip netns exec $B ss -tln | grep -q ':8000'"

# --- the truth: tcpdump on A's interface, one file per direction ------------
ip netns exec "$A" tcpdump -i ab -Q in -s 0 -U -w "$WORK/truth-in.pcap" 2>"$WORK/tcpdump-in.log" &
TD_IN=$!; PIDS+=($TD_IN)
ip netns exec "$A" tcpdump -i ab -Q out -s 0 -U -w "$WORK/truth-out.pcap" 2>"$WORK/tcpdump-out.log" &
TD_OUT=$!; PIDS+=($TD_OUT)
wait_for "tcpdump in" grep -q "listening on" "$WORK/tcpdump-in.log"
wait_for "tcpdump out" grep -q "listening on" "$WORK/tcpdump-out.log"

# --- the sender on A -------------------------------------------------------
MTU=1200
ip netns exec "$A" "$BIN/mirrortap-sender" -c "$HERE/data/e2e.yaml" -i ab -t 10.77.2.2:4789 --mtu $MTU \
    --metrics-listen 127.0.0.1:9187 >"$WORK/sender.log" 2>&1 &
SENDER=$!; PIDS+=($SENDER)
wait_for "sender" grep -q "capturing on" "$WORK/sender.log"

udp_send() {  # udp_send NS DST PORT BYTES [PAYLOAD]
    ip netns exec "$1" "$PY" -c "
import socket, sys
dst, port, n, tag = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4].encode()
fam = socket.AF_INET6 if ':' in dst else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
s.sendto((tag * n)[:n] if tag else b'u' * n, (dst, port))" "$2" "$3" "$4" "${5:-}"
}
tcp_knock() {  # tcp_knock NS DST PORT: a connection attempt that is refused
    ip netns exec "$1" "$PY" -c "
import socket, sys
dst, port = sys.argv[1], int(sys.argv[2])
fam = socket.AF_INET6 if ':' in dst else socket.AF_INET
s = socket.socket(fam, socket.SOCK_STREAM); s.settimeout(2)
try: s.connect((dst, port))
except OSError: pass" "$2" "$3"
}

# --- traffic ---------------------------------------------------------------
udp_send "$A" 10.77.1.2 7 16 MTSTART
sleep 0.2
inA curl -s -o /dev/null http://10.77.1.2:8000/small.txt            # TCP v4 -> session 10
inA curl -s -g -o /dev/null "http://[fd00:77:1::2]:8000/small.txt"  # TCP v6 -> session 10
inA ping -c 3 -i 0.2 -q 10.77.1.2 >/dev/null                        # ICMP -> session 20
inA ping -c 1 -s 1300 -q 10.77.1.2 >/dev/null                       # cut to the MTU
inA ping -6 -c 2 -i 0.2 -q fd00:77:1::2 >/dev/null                  # out -> 30, replies -> 20
udp_send "$A" 10.77.1.2 5001 100                                    # -> 20
udp_send "$A" 10.77.1.2 5002 1400                                   # -> 20, cut to the MTU
udp_send "$A" 10.77.1.2 9999 50                                     # rejected by 20, taken by 30
udp_send "$A" fd00:77:1::2 6000 700                                 # -> 30, cut to 200
udp_send "$B" 10.77.1.1 6001 80                                     # UDP in: not mirrored
tcp_knock "$B" 10.77.1.1 7000                                       # SYN in v4 -> 20 (0.0.0.0/0)
tcp_knock "$B" fd00:77:1::1 7000                                    # SYN in v6 -> 30, not 20
kill -HUP "$SENDER"                                                 # reload mid-stream: no loss, no twice
wait_for "reload" grep -q "reloaded" "$WORK/sender.log"
inA curl -s -o /dev/null http://10.77.1.2:8000/small.txt
udp_send "$A" 10.77.1.2 5003 60
sleep 0.3
udp_send "$A" 10.77.1.2 7 16 MTEND
sleep 1

METRICS=$(inA curl -s http://127.0.0.1:9187/metrics)
kill -TERM "$SENDER"; wait "$SENDER" || { echo "FAIL: sender exited non-zero"; cat "$WORK/sender.log"; exit 1; }
sleep 0.5
kill -TERM "$COLL1"; wait "$COLL1" || true   # the collector: closes its files
kill -INT "$TD_IN" "$TD_OUT"; wait "$TD_IN" "$TD_OUT" || true

echo "--- sender log"; cat "$WORK/sender.log"
echo "--- sender metrics"; echo "$METRICS" | grep -E '^mirrortap_sender_(captured|mirrored|filtered|dropped|truncated|config_reloads)' || true
echo "--- collector files (tcpdump -r)"
for f in "$WORK"/captures/*/*.pcap; do
    [ -L "$f" ] && continue
    echo "$(basename "$(dirname "$f")"): $(tcpdump -r "$f" 2>/dev/null | wc -l) frames"
done

echo "--- check"
"$PY" "$HERE/check_mirror.py" --config "$HERE/data/e2e.yaml" --truth-in "$WORK/truth-in.pcap" \
    --truth-out "$WORK/truth-out.pcap" --sessions-dir "$WORK/captures" --mtu $MTU

# Counters reconcile: every captured frame ends mirrored, filtered or dropped, and nothing was dropped.
"$PY" - "$METRICS" <<'EOF'
import re, sys
def total(name, text):
    return sum(float(v) for v in re.findall(r'^' + name + r'(?:\{[^}]*\})? (\S+)$', text, re.M))
m = sys.argv[1]
captured = total("mirrortap_sender_captured_packets_total", m)
mirrored = total("mirrortap_sender_mirrored_packets_total", m)
filtered = total("mirrortap_sender_filtered_packets_total", m)
dropped = total("mirrortap_sender_dropped_packets_total", m)
reloads = re.search(r'^mirrortap_sender_config_reloads_total\{result="ok"\} (\S+)$', m, re.M)
print(f"metrics: captured {captured:.0f} = mirrored {mirrored:.0f} + filtered {filtered:.0f} + dropped {dropped:.0f}")
ok = captured > 0 and captured == mirrored + filtered + dropped and dropped == 0
ok = ok and reloads and float(reloads.group(1)) == 1
if not ok:
    print("FAIL: sender counters do not reconcile (or a drop, or no reload)")
    sys.exit(1)
EOF

# --- the sender must never mirror its own VXLAN ------------------------------
# Capture on the mirror path itself, accept everything: without the BPF
# exclusion each mirrored datagram would be captured and mirrored again.
mkdir -p "$WORK/own"
ip netns exec "$C" "$BIN/mirrortap-collector" --listen 10.77.2.2:4789 --pcap-dir "$WORK/own" --workers 1 \
    --allow-root >"$WORK/collector2.log" 2>&1 &
COLL2=$!; PIDS+=($COLL2)
wait_for "collector socket" sh -c "ip netns exec $C ss -uln | grep -q 10.77.2.2:4789"
ip netns exec "$A" "$BIN/mirrortap-sender" -i ac -t 10.77.2.2 --vni 7 --accept-all >"$WORK/sender2.log" 2>&1 &
SENDER2=$!; PIDS+=($SENDER2)
wait_for "sender on the mirror path" grep -q "capturing on" "$WORK/sender2.log"
inA ping -c 3 -i 0.2 -q 10.77.2.2 >/dev/null
sleep 1
kill -TERM "$SENDER2"; wait "$SENDER2" || true
sleep 0.3
kill -TERM "$COLL2"; wait "$COLL2" || true
OWN=$(cat "$WORK"/own/vni-7/*.pcap 2>/dev/null | wc -c)
ICMP=$(for f in "$WORK"/own/vni-7/*.pcap; do [ -L "$f" ] || tcpdump -nr "$f" icmp 2>/dev/null; done | wc -l)
VXLAN=$(for f in "$WORK"/own/vni-7/*.pcap; do [ -L "$f" ] || tcpdump -nr "$f" udp port 4789 2>/dev/null; done | wc -l)
echo "own-traffic check: vni-7 holds $ICMP ICMP frames and $VXLAN VXLAN frames ($OWN bytes)"
if [ "$ICMP" -ne 6 ] || [ "$VXLAN" -ne 0 ]; then
    echo "FAIL: expected the 6 ICMP frames of 3 pings and no VXLAN"; cat "$WORK/sender2.log"; exit 1
fi

# A collector that is down answers each datagram with ICMP port unreachable,
# which quotes our VXLAN: mirroring it would loop (on loopback, a storm).
ip netns exec "$A" "$BIN/mirrortap-sender" -i lo -t 127.0.0.1 --vni 8 --accept-all >"$WORK/sender-lo.log" 2>&1 &
SENDER_LO=$!; PIDS+=($SENDER_LO)
wait_for "sender on loopback" grep -q "capturing on" "$WORK/sender-lo.log"
inA ping -c 2 -i 0.2 -q 127.0.0.1 >/dev/null
sleep 1
kill -TERM "$SENDER_LO"; wait "$SENDER_LO" || true
LO_MIRRORED=$(awk '/packets mirrored/ {print $1}' "$WORK/sender-lo.log")
LO_UNREACHABLE=$(awk '/ICMP unreachable from the target/ {print $1}' "$WORK/sender-lo.log")
echo "loopback, no collector: $LO_MIRRORED frames mirrored (want the 4 of 2 pings, not the ICMP errors they cause)"
if [ "$LO_MIRRORED" != 4 ]; then
    echo "FAIL: ICMP errors about our own VXLAN were mirrored (a loop)"; cat "$WORK/sender-lo.log"; exit 1
fi
# ... and counted: a target nobody listens on is seen. The kernel rate-limits
# ICMP errors, so at least one of the 4, not all.
echo "loopback, no collector: ${LO_UNREACHABLE:-none} ICMP unreachable counted"
if [ -z "$LO_UNREACHABLE" ] || [ "$LO_UNREACHABLE" -lt 1 ] || [ "$LO_UNREACHABLE" -gt 4 ]; then
    echo "FAIL: want 1..4 ICMP port unreachable counted from a target without a collector"; cat "$WORK/sender-lo.log"; exit 1
fi

# --- a target name is re-resolved: IPv4 first, then it moves to IPv6 -------
# `ip netns exec` mounts /etc/netns/NS/hosts over /etc/hosts: A's own DNS.
ip -n "$A" addr add fd00:77:2::1/64 dev ac nodad
ip -n "$C" addr add fd00:77:2::2/64 dev ca nodad
mkdir -p "/etc/netns/$A" "$WORK/moved"
echo "10.77.2.2 collector.mt.test" >"/etc/netns/$A/hosts"
ip netns exec "$C" "$BIN/mirrortap-collector" --listen "[::]:4789" --pcap-dir "$WORK/moved" --workers 1 \
    --allow-root >"$WORK/collector3.log" 2>&1 &
COLL3=$!; PIDS+=($COLL3)
wait_for "collector socket" sh -c "ip netns exec $C ss -uln | grep -q ':4789'"
ip netns exec "$A" "$BIN/mirrortap-sender" -i ab -t collector.mt.test --resolve-seconds 1 --vni 9 --accept-all \
    >"$WORK/sender3.log" 2>&1 &
SENDER3=$!; PIDS+=($SENDER3)
wait_for "sender with a target name" grep -q "capturing on" "$WORK/sender3.log"
inA ping -c 2 -i 0.2 -q 10.77.1.2 >/dev/null
echo "fd00:77:2::2 collector.mt.test" >"/etc/netns/$A/hosts"   # same file: the mount sees it
wait_for "the sender to follow the name" grep -q "moved from 10.77.2.2 to fd00:77:2::2" "$WORK/sender3.log"
inA ping -c 3 -i 0.2 -q 10.77.1.2 >/dev/null
sleep 1
kill -TERM "$SENDER3"; wait "$SENDER3" || true
sleep 0.3
kill -TERM "$COLL3"; wait "$COLL3" || true
MOVED=$(for f in "$WORK"/moved/vni-9/*.pcap; do [ -L "$f" ] || tcpdump -nr "$f" icmp 2>/dev/null; done | wc -l)
echo "re-resolution check: vni-9 holds $MOVED ICMP frames (2 pings to the IPv4 target, 3 to the IPv6 one)"
grep "moved" "$WORK/sender3.log"
if [ "$MOVED" -ne 10 ]; then
    echo "FAIL: expected 10 ICMP frames across the move"; cat "$WORK/sender3.log" "$WORK/collector3.log"; exit 1
fi

# --- sessions as AWS has them: each names its source interface and target ----
# Session 1 (VNI 101) on ab -> the collector on 10.77.2.2:4789; session 1
# (VNI 102: the same number, another interface, as on two ENIs) on a second
# link ab2 -> another collector on 10.77.2.2:4790. Each mirror leaves from its
# source interface's primary address (ab's 10.77.1.1, not its secondary
# 10.77.1.9; ab2's 10.77.4.1), not from ac's, the way out to C. Session 2
# (VNI 103) on ab takes ICMPv6 to an IPv6 target, [fd00:77:2::2]:4792: its
# mirrors leave from ab's fd00:77:1::1, not ac's fd00:77:2::1.
ip -n "$A" link add ab2 type veth peer name ba2 netns "$B"
ip -n "$A" addr add 10.77.4.1/24 dev ab2
ip -n "$B" addr add 10.77.4.2/24 dev ba2
ip -n "$A" addr add 10.77.1.9/24 dev ab
ip -n "$A" link set ab2 up; ip -n "$B" link set ba2 up
ip -n "$C" route add 10.77.0.0/16 via 10.77.2.1   # a strict rp_filter wants a way back
mkdir -p "$WORK/s101" "$WORK/s102" "$WORK/s103"
{
    echo "sessions:"
    for s in "101 ab 4789" "102 [ab2] 4790"; do
        set -- $s
        echo "  - {session_number: 1, virtual_network_id: $1, interface: $2, target: 10.77.2.2:$3,"
        echo "     filter: {egress: [{rule_number: 1, rule_action: accept, protocol: 1}],"
        echo "              ingress: [{rule_number: 1, rule_action: accept, protocol: 1}]}}"
    done
    echo "  - {session_number: 2, virtual_network_id: 103, interface: ab, target: '[fd00:77:2::2]:4792',"
    echo "     filter: {egress: [{rule_number: 1, rule_action: accept, protocol: 58}],"
    echo "              ingress: [{rule_number: 1, rule_action: accept, protocol: 58}]}}"
} >"$WORK/sessions.yaml"
ip netns exec "$C" "$BIN/mirrortap-collector" --listen 10.77.2.2:4789 --pcap-dir "$WORK/s101" --workers 1 \
    --allow-root >"$WORK/collector101.log" 2>&1 &
COLL101=$!; PIDS+=($COLL101)
ip netns exec "$C" "$BIN/mirrortap-collector" --listen 10.77.2.2:4790 --pcap-dir "$WORK/s102" --workers 1 \
    --allow-root >"$WORK/collector102.log" 2>&1 &
COLL102=$!; PIDS+=($COLL102)
ip netns exec "$C" "$BIN/mirrortap-collector" --listen "[fd00:77:2::2]:4792" --pcap-dir "$WORK/s103" --workers 1 \
    --allow-root >"$WORK/collector103.log" 2>&1 &
COLL103=$!; PIDS+=($COLL103)
wait_for "collector sockets" sh -c "ip netns exec $C ss -uln | grep -q 10.77.2.2:4790 && ip netns exec $C ss -uln | grep -q 10.77.2.2:4789 && ip netns exec $C ss -uln | grep -q ':4792'"
ip netns exec "$C" tcpdump -i ca -n -s 96 -U -w "$WORK/outer.pcap" "udp dst portrange 4789-4792" >"$WORK/tcpdump-outer.log" 2>&1 &
TD_OUTER=$!; PIDS+=($TD_OUTER)
wait_for "tcpdump outer" grep -q "listening on" "$WORK/tcpdump-outer.log"
ip netns exec "$A" "$BIN/mirrortap-sender" -c "$WORK/sessions.yaml" >"$WORK/sender-sessions.log" 2>&1 &
SENDER4=$!; PIDS+=($SENDER4)
wait_for "sender with sessions of their own" grep -q "capturing on" "$WORK/sender-sessions.log"
inA ping -c 2 -i 0.2 -q 10.77.1.2 >/dev/null
inA ping -c 3 -i 0.2 -q 10.77.4.2 >/dev/null
inA ping -6 -c 2 -i 0.2 -q fd00:77:1::2 >/dev/null
sleep 1
kill -TERM "$SENDER4"; wait "$SENDER4" || true
sleep 0.3
kill -TERM "$COLL101" "$COLL102" "$COLL103"; wait "$COLL101" "$COLL102" "$COLL103" || true
kill -INT "$TD_OUTER"; wait "$TD_OUTER" || true
frames() { for f in "$1"/*.pcap; do [ -L "$f" ] || tcpdump -nr "$f" "$2" 2>/dev/null; done | wc -l; }
S101=$(frames "$WORK/s101/vni-101" icmp); S101_OTHER=$(frames "$WORK/s101/vni-101" "icmp and not net 10.77.1.0/24")
S102=$(frames "$WORK/s102/vni-102" icmp); S102_OTHER=$(frames "$WORK/s102/vni-102" "icmp and not net 10.77.4.0/24")
S103=$(frames "$WORK/s103/vni-103" "icmp6 and (ip6[40] == 128 or ip6[40] == 129)")
DIRS=$(ls "$WORK/s101" "$WORK/s102" "$WORK/s103" | grep -c '^vni-' || true)
echo "sessions of their own: vni-101 at :4789 holds $S101 ICMP frames ($S101_OTHER not of ab), vni-102 at :4790 $S102 ($S102_OTHER not of ab2)"
echo "  vni-103 at [fd00:77:2::2]:4792 holds $S103 ICMPv6 echo frames"
if [ "$S101" -ne 4 ] || [ "$S102" -ne 6 ] || [ "$S101_OTHER" -ne 0 ] || [ "$S102_OTHER" -ne 0 ] || [ "$S103" -ne 4 ] ||
   [ "$DIRS" -ne 3 ]; then
    echo "FAIL: each session's interface's traffic belongs at its own target only"; cat "$WORK/sender-sessions.log"; exit 1
fi
echo "outer source > target, on C's link:"
# tcpdump prints the inner packet of port 4789 on a line of its own: count the outer ones.
OUTER=$(tcpdump -nr "$WORK/outer.pcap" 2>/dev/null | awk '$5 ~ /^10\.77\.2\.2\.47(89|90):$/ {sub(/\.[0-9]+$/, "", $3); print $3, "->", $5}')
echo "$OUTER" | sort | uniq -c
WRONG=$(echo "$OUTER" | grep -vc -e '^10.77.1.1 -> 10.77.2.2.4789:$' -e '^10.77.4.1 -> 10.77.2.2.4790:$' || true)
ALL=$(echo "$OUTER" | grep -c . || true)
if [ "$WRONG" -ne 0 ] || [ "$ALL" -ne 10 ]; then
    echo "FAIL: want 10 mirrors, each from its source interface's primary address (10.77.1.1 to :4789, 10.77.4.1 to :4790)"
    cat "$WORK/sender-sessions.log"; exit 1
fi
OUTER6=$(tcpdump -nr "$WORK/outer.pcap" ip6 2>/dev/null | awk '$5 == "fd00:77:2::2.4792:" {sub(/\.[0-9]+$/, "", $3); print $3}')
echo "$OUTER6" | sort | uniq -c | sed 's/$/ -> [fd00:77:2::2]:4792/'
if [ "$(echo "$OUTER6" | grep -c .)" -lt 4 ] || echo "$OUTER6" | grep -qv '^fd00:77:1::1$'; then
    echo "FAIL: mirrors to the IPv6 target leave from ab's fd00:77:1::1"; cat "$WORK/sender-sessions.log"; exit 1
fi

# --- a target that cannot be reached is seen ---------------------------------
# ICMP goes to 10.77.2.99 on C's link, where nobody answers ARP; UDP to
# 10.99.0.1, to which A has no route. Both are counted, and /healthz turns
# red after the grace period (2 s here), naming each; then C takes
# 10.77.2.99, A gets a route to 10.99.0.0/16, and /healthz is green again.
{
    echo "sessions:"
    echo "  - {session_number: 1, virtual_network_id: 201, target: 10.77.2.99,"
    echo "     filter: {egress: [{rule_number: 1, rule_action: accept, protocol: 1}]}}"
    echo "  - {session_number: 2, virtual_network_id: 202, target: 10.99.0.1,"
    echo "     filter: {egress: [{rule_number: 1, rule_action: accept, protocol: 17}]}}"
} >"$WORK/dead.yaml"
ip netns exec "$A" "$BIN/mirrortap-sender" -c "$WORK/dead.yaml" -i ab --unreachable-grace 2 \
    --metrics-listen 127.0.0.1:9188 >"$WORK/sender-dead.log" 2>&1 &
SENDER5=$!; PIDS+=($SENDER5)
wait_for "sender with dead targets" grep -q "capturing on" "$WORK/sender-dead.log"
healthz() { inA curl -s -o "$WORK/healthz.txt" -w '%{http_code}' http://127.0.0.1:9188/healthz; }
[ "$(healthz)" = 200 ] || { echo "FAIL: /healthz not 200 at start: $(cat "$WORK/healthz.txt")"; exit 1; }
ip netns exec "$A" ping -c 60 -i 0.2 -q 10.77.1.2 >/dev/null 2>&1 &
PINGER=$!; PIDS+=($PINGER)
udp_send "$A" 10.77.1.2 5001 100
WAIT_LOG="$WORK/sender-dead.log" wait_for "/healthz red" sh -c "[ \"\$(ip netns exec $A curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:9188/healthz)\" = 503 ]"
healthz >/dev/null
echo "/healthz with dead targets:"; cat "$WORK/healthz.txt"
grep -q "target 10.77.2.99:4789 unreachable: .*no ARP/ND answer from 10.77.2.99" "$WORK/healthz.txt" &&
    grep -q "target 10.99.0.1:4789 unreachable: .*no route" "$WORK/healthz.txt" ||
    { echo "FAIL: /healthz should name both targets and why"; cat "$WORK/sender-dead.log"; exit 1; }
DEAD_METRICS=$(inA curl -s http://127.0.0.1:9188/metrics)
echo "$DEAD_METRICS" | grep -E '^mirrortap_sender_target_(path_failures_total|up)' 
"$PY" - "$DEAD_METRICS" <<'EOF'
import re, sys
m = sys.argv[1]
def value(target, reason):
    v = re.search(r'^mirrortap_sender_target_path_failures_total\{target="%s",reason="%s"\} (\S+)$' % (target, reason), m, re.M)
    return float(v.group(1)) if v else 0
def up(target):
    v = re.search(r'^mirrortap_sender_target_up\{target="%s"\} (\S+)$' % target, m, re.M)
    return float(v.group(1)) if v else -1
ok = value("10.77.2.99:4789", "no_neighbour") >= 1 and value("10.99.0.1:4789", "no_route") >= 1
ok = ok and up("10.77.2.99:4789") == 0 and up("10.99.0.1:4789") == 0
if not ok:
    print("FAIL: want no_neighbour and no_route counted and both targets down")
    sys.exit(1)
EOF
ip -n "$C" addr add 10.77.2.99/24 dev ca
ip -n "$C" addr add 10.99.0.1/32 dev lo
ip -n "$A" route add 10.99.0.0/16 via 10.77.2.2
for _ in 1 2 3; do udp_send "$A" 10.77.1.2 5001 100; sleep 0.5; done
WAIT_LOG="$WORK/sender-dead.log" wait_for "/healthz green again" sh -c "[ \"\$(ip netns exec $A curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:9188/healthz)\" = 200 ]"
echo "/healthz once the targets answer: $(healthz) $(cat "$WORK/healthz.txt")"
kill "$PINGER" 2>/dev/null || true; wait "$PINGER" 2>/dev/null || true
kill -TERM "$SENDER5"; wait "$SENDER5" || true

# --- a re-resolved name keeps its address while the answer holds it ----------
# An NLB's name answers with its zones' addresses in turn: hopping between
# them each --resolve-seconds would move every flow to another collector.
echo "10.77.2.2 zones.mt.test" >"/etc/netns/$A/hosts"
ip -n "$C" addr add 10.77.2.3/24 dev ca
ip netns exec "$A" "$BIN/mirrortap-sender" -i ab -t zones.mt.test --resolve-seconds 1 --vni 9 --accept-all \
    >"$WORK/sender-zones.log" 2>&1 &
SENDER6=$!; PIDS+=($SENDER6)
wait_for "sender with a zonal name" grep -q "capturing on" "$WORK/sender-zones.log"
printf '10.77.2.3 zones.mt.test\n10.77.2.2 zones.mt.test\n' >"/etc/netns/$A/hosts"   # the other zone first
sleep 3.5
if grep -q "moved" "$WORK/sender-zones.log"; then
    echo "FAIL: the target hopped to another address of the same answer"; cat "$WORK/sender-zones.log"; exit 1
fi
echo "10.77.2.3 zones.mt.test" >"/etc/netns/$A/hosts"   # 10.77.2.2 gone from the answer: now it moves
WAIT_LOG="$WORK/sender-zones.log" wait_for "the move once the address left the answer" \
    grep -q "moved from 10.77.2.2 to 10.77.2.3" "$WORK/sender-zones.log"
kill -TERM "$SENDER6"; wait "$SENDER6" || true
echo "re-resolution: stayed on 10.77.2.2 while the answer held it, then moved"

# --- never mirrored, as on AWS, whatever the filter says -----------------------
# B answers as instance metadata, the time service and Amazon DNS; an
# accept-all session mirrors none of it, and mirrors the control datagram.
for a in 169.254.169.254 169.254.169.123 169.254.169.253; do ip -n "$B" addr add "$a/32" dev ba; done
ip -n "$A" route add 169.254.169.0/24 dev ab
mkdir -p "$WORK/services"
ip netns exec "$C" "$BIN/mirrortap-collector" --listen 10.77.2.2:4789 --pcap-dir "$WORK/services" --workers 1 \
    --allow-root >"$WORK/collector-services.log" 2>&1 &
COLL8=$!; PIDS+=($COLL8)
wait_for "collector socket" sh -c "ip netns exec $C ss -uln | grep -q 10.77.2.2:4789"
ip netns exec "$A" "$BIN/mirrortap-sender" -i ab -t 10.77.2.2 --vni 41 --accept-all \
    --metrics-listen 127.0.0.1:9190 >"$WORK/sender-services.log" 2>&1 &
SENDER8=$!; PIDS+=($SENDER8)
wait_for "sender for AWS's services" grep -q "capturing on" "$WORK/sender-services.log"
inA curl -s -m 2 -o /dev/null http://169.254.169.254/latest/meta-data/ || true   # refused: TCP SYN and RST
udp_send "$A" 169.254.169.123 123 48                                             # NTP
udp_send "$A" 169.254.169.253 53 40                                              # Amazon DNS
udp_send "$A" 10.77.1.2 5001 64 MTCONTROL                                        # mirrored
sleep 1
SERVICES_METRICS=$(inA curl -s http://127.0.0.1:9190/metrics)
kill -TERM "$SENDER8"; wait "$SENDER8" || true
sleep 0.3
kill -TERM "$COLL8"; wait "$COLL8" || true
LEAKED=$(for f in "$WORK"/services/vni-41/*.pcap; do [ -L "$f" ] || tcpdump -nr "$f" 'net 169.254.169.0/24' 2>/dev/null; done | wc -l)
CONTROL=$(for f in "$WORK"/services/vni-41/*.pcap; do [ -L "$f" ] || tcpdump -nr "$f" 'udp port 5001' 2>/dev/null; done | wc -l)
KEPT_OUT=$(echo "$SERVICES_METRICS" | awk '/^mirrortap_sender_filtered_packets_total\{verdict="aws_service"\}/ {print $2}')
echo "never mirrored: $LEAKED frames of 169.254.169.0/24 in the mirror, $CONTROL control datagram" \
     "(filtered{verdict=aws_service} ${KEPT_OUT:-0}: the capture BPF keeps most out before any count)"
if [ "$LEAKED" -ne 0 ] || [ "$CONTROL" -ne 1 ]; then
    echo "FAIL: instance metadata, time and Amazon DNS are never mirrored; the control datagram is"; exit 1
fi

# --- offloads on: the mirror holds what the wire carried ---------------------
# TSO/GSO on A's egress and GRO on its ingress hand the capture TCP
# super-frames of up to 64 KB, and checksum offload leaves partial
# checksums on what A sends. The mirror (over a 9000-byte path, so nothing
# is cut) must hold wire-size segments with every checksum right, and every
# byte of a bulk transfer each way exactly once.
if command -v ethtool >/dev/null && command -v tshark >/dev/null; then
    for side in "$A ab" "$B ba"; do
        set -- $side
        ip netns exec "$1" ethtool -K "$2" tso on gso on gro on tx on rx on >/dev/null 2>&1 || true
    done
    ip -n "$A" link set ac mtu 9000; ip -n "$C" link set ca mtu 9000
    mkdir -p "$WORK/offload"
    ip netns exec "$C" "$BIN/mirrortap-collector" --listen 10.77.2.2:4789 --pcap-dir "$WORK/offload" --workers 1 \
        --allow-root >"$WORK/collector-offload.log" 2>&1 &
    COLL7=$!; PIDS+=($COLL7)
    wait_for "collector socket" sh -c "ip netns exec $C ss -uln | grep -q 10.77.2.2:4789"
    ip netns exec "$A" "$BIN/mirrortap-sender" -i ab -t 10.77.2.2 --mtu 9000 --vni 31 --accept-all \
        --metrics-listen 127.0.0.1:9189 >"$WORK/sender-offload.log" 2>&1 &
    SENDER7=$!; PIDS+=($SENDER7)
    wait_for "sender with offloads on" grep -q "capturing on" "$WORK/sender-offload.log"
    ip netns exec "$B" "$PY" -c "
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('10.77.1.2', 9100)); s.listen(1)
c, _ = s.accept(); got = 0
while got < 1000000:
    d = c.recv(65536)
    if not d: break
    got += len(d)
c.sendall(b'b' * 300000); c.close()" &
    BULK=$!; PIDS+=($BULK)
    wait_for "bulk server" sh -c "ip netns exec $B ss -tln | grep -q 10.77.1.2:9100"
    ip netns exec "$A" "$PY" -c "
import socket
s = socket.create_connection(('10.77.1.2', 9100)); s.sendall(b'a' * 1000000); got = 0
while got < 300000:
    d = s.recv(65536)
    if not d: break
    got += len(d)
assert got == 300000, got
s.close()"
    wait "$BULK" || true
    sleep 1
    OFFLOAD_METRICS=$(inA curl -s http://127.0.0.1:9189/metrics)
    kill -TERM "$SENDER7"; wait "$SENDER7" || true
    sleep 0.3
    kill -TERM "$COLL7"; wait "$COLL7" || true
    RESEG=$(echo "$OFFLOAD_METRICS" | awk '/^mirrortap_sender_resegmented_packets_total/ {print $2}')
    cat "$WORK"/offload/vni-31/*.pcap >/dev/null 2>&1 || { echo "FAIL: nothing mirrored with offloads on"; exit 1; }
    FILES=$(for f in "$WORK"/offload/vni-31/*.pcap; do [ -L "$f" ] || echo "$f"; done)
    BAD=0; BIG=0; : >"$WORK/ab.txt"; : >"$WORK/ba.txt"
    for f in $FILES; do
        BAD=$((BAD + $(tshark -r "$f" -o tcp.check_checksum:TRUE -o ip.check_checksum:TRUE \
            -Y 'tcp.checksum.status == "Bad" or ip.checksum.status == "Bad" or udp.checksum.status == "Bad"' 2>/dev/null | wc -l)))
        BIG=$((BIG + $(tshark -r "$f" -Y 'frame.len > 1514' 2>/dev/null | wc -l)))
        # Each segment once: a retransmission is on the wire too, with the same sequence number.
        tshark -r "$f" -Y 'ip.src == 10.77.1.1 and tcp.dstport == 9100' -T fields -e tcp.seq_raw -e tcp.len 2>/dev/null >>"$WORK/ab.txt"
        tshark -r "$f" -Y 'ip.src == 10.77.1.2 and tcp.srcport == 9100' -T fields -e tcp.seq_raw -e tcp.len 2>/dev/null >>"$WORK/ba.txt"
    done
    AB=$(sort -u "$WORK/ab.txt" | awk '{s += $2} END {print s + 0}')
    BA=$(sort -u "$WORK/ba.txt" | awk '{s += $2} END {print s + 0}')
    echo "offloads on: $RESEG packets made by cutting super-frames; bad checksums $BAD, frames over 1514 bytes $BIG;" \
         "TCP payload A->B $AB (sent 1000000), B->A $BA (sent 300000)"
    if [ "${RESEG:-0}" = 0 ] || [ "$BAD" -ne 0 ] || [ "$BIG" -ne 0 ] || [ "$AB" -ne 1000000 ] || [ "$BA" -ne 300000 ]; then
        echo "FAIL: the mirror of a host with offloads on must hold the wire's segments, checksums right, every byte once"
        cat "$WORK/sender-offload.log"; exit 1
    fi
else
    echo "SKIP part: offloads (needs ethtool and tshark)"
fi
echo "PASS"
