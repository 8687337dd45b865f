#!/usr/bin/env bash
# Reloads are all or nothing. mirrortap-sender on host A mirrors A's pings to
# B (ICMP only, so every count is exact) to a collector in C. Then SIGHUP with
# a config that fails at each step a reload takes: a bad value, an interface
# that does not exist, a target name that does not resolve, an interface that
# exists but cannot be captured on (a TUN device: not Ethernet) together with a
# new target, batch and metrics port, and a metrics port another process
# holds. After each refusal the old config must still run as it was: the next
# pings reach the first collector under the old VNI, /metrics answers on the
# old port, the new port is not bound. Last, a good reload moves everything,
# two more add and remove a capture, and the collectors' files hold exactly
# the frames each should.
# Every namespace, process and file is made here and removed on exit.
#
# usage: reload_sender.sh BIN_DIR     (exit 77 = skipped: needs root)
set -euo pipefail

BIN=${1:?usage: reload_sender.sh BIN_DIR}
PY=/usr/bin/python3
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root for network namespaces"; exit 77; }
for tool in ip tcpdump curl ping "$PY"; do
    command -v "$tool" >/dev/null || { echo "SKIP: $tool not installed"; exit 77; }
done
. "$(cd "$(dirname "$0")" && pwd)/netns_lib.sh"
need_bins "$BIN" mirrortap-sender mirrortap-collector
netns_hosts r reload
WAIT_LOG=$WORK/sender.log

# --- the hosts ----------------------------------------------------------------
for ns in "$A" "$B" "$C"; do
    ip netns add "$ns"
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
    ip -n "$ns" link set lo up
done
netns_link_hosts 79
# An interface that exists but carries no Ethernet: a packet socket opens it, the sender refuses it.
ip -n "$A" tuntap add mode tun name mttun0
ip -n "$A" link set mttun0 up

# --- two collectors in C: the first target, and the one a good reload moves to
mkdir -p "$WORK/c1" "$WORK/c2"
ip netns exec "$C" "$BIN/mirrortap-collector" --listen 10.79.2.2:4789 --pcap-dir "$WORK/c1" --workers 1 \
    --allow-root >"$WORK/c1.log" 2>&1 &
COLL1=$!; PIDS+=($COLL1)
ip netns exec "$C" "$BIN/mirrortap-collector" --listen 10.79.2.2:4790 --pcap-dir "$WORK/c2" --workers 1 \
    --allow-root >"$WORK/c2.log" 2>&1 &
COLL2=$!; PIDS+=($COLL2)
wait_for "collector sockets" sh -c "ip netns exec $C ss -uln | grep -q 10.79.2.2:4789 &&
                                    ip netns exec $C ss -uln | grep -q 10.79.2.2:4790"
# A process that holds a TCP port on A, so that binding metrics there fails.
ip netns exec "$A" "$PY" -c "
import socket, time
s = socket.socket(); s.bind(('127.0.0.1', 9303)); s.listen(); time.sleep(600)" &
PIDS+=($!)
wait_for "the port holder" sh -c "ip netns exec $A ss -tln | grep -q 127.0.0.1:9303"

# config INTERFACES TARGET VNI METRICS_PORT [EXTRA LINE]: the sender's config file.
config() {
    cat >"$WORK/sender.yaml" <<EOF
interface: $1
target: $2
metrics_listen: 127.0.0.1:$4
${5:-}
sessions:
  - session_number: 1
    virtual_network_id: $3
    filter:
      egress: [{rule_number: 1, rule_action: accept, protocol: icmp}]
      ingress: [{rule_number: 1, rule_action: accept, protocol: icmp}]
EOF
}

# metric PORT NAME_AND_LABELS: one sample from the sender's /metrics on PORT.
metric() {
    ip netns exec "$A" curl -sf "http://127.0.0.1:$1/metrics" |
        awk -v m="$2" 'index($0, m " ") == 1 {printf "%d\n", $2; found=1} END {if (!found) exit 1}'
}
mirrored() { metric "$1" "mirrortap_sender_mirrored_packets_total{session=\"session-1\",vni=\"$2\"}"; }

# round PORT VNI: 2 pings A -> B (4 ICMP frames), then wait (at most 10 s)
# until /metrics on PORT counts exactly 4 more mirrored under VNI.
round() {
    local port=$1 vni=$2 before now=0
    before=$(mirrored "$port" "$vni" || echo 0)
    ip netns exec "$A" ping -c 2 -i 0.2 -q 10.79.1.2 >/dev/null
    for _ in $(seq 1 100); do
        now=$(mirrored "$port" "$vni" || echo 0)
        [ "$now" -ge $((before + 4)) ] && break
        sleep 0.1
    done
    if [ "$now" -ne $((before + 4)) ]; then
        echo "FAIL: mirrored under VNI $vni went from $before to $now, want $((before + 4))"
        cat "$WORK/sender.log"; exit 1
    fi
    echo "  pings mirrored under VNI $vni: $before -> $now"
}

REFUSED=0
# refused NAME WANT_TEXT: SIGHUP with the config written, which must be refused
# naming WANT_TEXT; then the running config must still work as before.
refused() {
    local name=$1 want=$2
    REFUSED=$((REFUSED + 1))
    kill -HUP "$SENDER"
    wait_for "refusal $REFUSED" sh -c "[ \$(grep -c 'reload refused' '$WORK/sender.log') -ge $REFUSED ]"
    if ! grep -qF -- "$want" "$WORK/sender.log"; then
        echo "FAIL: $name: the log does not say '$want'"; cat "$WORK/sender.log"; exit 1
    fi
    round 9301 11
    # Nothing moved: the new metrics port is not bound, the old one answers.
    if ip netns exec "$A" curl -sf -o /dev/null http://127.0.0.1:9302/metrics; then
        echo "FAIL: $name: metrics answer on the new port after a refused reload"; exit 1
    fi
    echo "ok: $name is refused and the running config keeps mirroring"
}

# --- start with a good config ----------------------------------------------------
config ab 10.79.2.2:4789 11 9301
ip netns exec "$A" "$BIN/mirrortap-sender" -c "$WORK/sender.yaml" >"$WORK/sender.log" 2>&1 &
SENDER=$!; PIDS+=($SENDER)
wait_for "sender" grep -q "capturing on" "$WORK/sender.log"
round 9301 11

# --- each step of a reload, failing ------------------------------------------
config ab 10.79.2.2:4790 12 9302 "mtu: 100"
refused "a config with a bad value" "mtu: must be at least 576, got '100'"

config "[ab, mt-nosuch0]" 10.79.2.2:4790 12 9302
refused "an interface that does not exist" "interface: no such interface 'mt-nosuch0'"

config ab collector.mirrortap.invalid:4790 12 9302
refused "a target name that does not resolve" "target: cannot resolve 'collector.mirrortap.invalid'"

# Past every check the file allows: the capture opens, then is refused; by
# then a new transmit socket (batch 8), a new metrics listener (9302) and the
# new target's filter were made, and must all be dropped.
config "[ab, mttun0]" 10.79.2.2:4790 12 9302 "batch_size: 8"
refused "an interface that cannot be captured on" "mttun0: not an Ethernet interface"

config ab 10.79.2.2:4790 12 9303
refused "a metrics port that is taken" "metrics on '127.0.0.1:9303'"

# --- a good reload moves everything ----------------------------------------------
config ab 10.79.2.2:4790 12 9302 "batch_size: 8"
kill -HUP "$SENDER"
wait_for "the good reload" grep -q "reloaded" "$WORK/sender.log"
round 9302 12
if ip netns exec "$A" curl -sf -o /dev/null http://127.0.0.1:9301/metrics; then
    echo "FAIL: the old metrics port still answers after the reload moved it"; exit 1
fi
# Captures come and go with the interface list, the one that stays is kept:
# the pings on ab stay exact while ac (the mirror path, whose VXLAN the
# capture filter leaves out) is added and then removed.
GOOD=1
good_reload() {  # good_reload WANT_LOG_TEXT
    GOOD=$((GOOD + 1))
    kill -HUP "$SENDER"
    wait_for "good reload $GOOD" sh -c "[ \$(grep -c 'reloaded' '$WORK/sender.log') -ge $GOOD ]"
    grep -qF -- "$1" "$WORK/sender.log" || { echo "FAIL: the log does not say '$1'"; cat "$WORK/sender.log"; exit 1; }
}
config "[ab, ac]" 10.79.2.2:4790 12 9302 "batch_size: 8"
good_reload "reloaded: capturing on ab,ac, 1 session(s)"
round 9302 12
config ab 10.79.2.2:4790 12 9302 "batch_size: 8"
good_reload "reloaded: capturing on ab, 1 session(s)"
round 9302 12
echo "ok: an interface is added and removed again; the pings stay exact"

OK=$(metric 9302 'mirrortap_sender_config_reloads_total{result="ok"}')
FAILED=$(metric 9302 'mirrortap_sender_config_reloads_total{result="failed"}')
OLD=$(mirrored 9302 11)
echo "reloads: $OK ok, $FAILED failed; VNI 11 mirrored $OLD"
[ "$OK" = "$GOOD" ] && [ "$FAILED" = "$REFUSED" ] || { echo "FAIL: want $GOOD ok and $REFUSED failed reloads"; exit 1; }

kill -TERM "$SENDER"; wait "$SENDER" || { echo "FAIL: sender exited non-zero"; cat "$WORK/sender.log"; exit 1; }
sleep 0.3
kill -TERM "$COLL1" "$COLL2"; wait "$COLL1" "$COLL2" || true

# --- what each collector wrote: every ping under the right VNI, at the right one
count() {  # count DIR VNI: ICMP frames in the collector's pcap files for VNI
    local n=0 f
    for f in "$1"/vni-"$2"/*.pcap; do
        [ -f "$f" ] && [ ! -L "$f" ] || continue
        n=$((n + $(tcpdump -nr "$f" icmp 2>/dev/null | wc -l)))
    done
    echo $n
}
C1_11=$(count "$WORK/c1" 11) C1_12=$(count "$WORK/c1" 12) C2_11=$(count "$WORK/c2" 11) C2_12=$(count "$WORK/c2" 12)
WANT_OLD=$((4 * (REFUSED + 1)))
echo "collector 1: VNI 11 $C1_11 frames, VNI 12 $C1_12; collector 2: VNI 11 $C2_11, VNI 12 $C2_12"
if [ "$C1_11" -ne "$WANT_OLD" ] || [ "$OLD" -ne "$WANT_OLD" ] || [ "$C1_12" -ne 0 ] || [ "$C2_11" -ne 0 ] ||
   [ "$C2_12" -ne $((4 * GOOD)) ]; then
    echo "FAIL: want $WANT_OLD frames under VNI 11 at collector 1 only, $((4 * GOOD)) under VNI 12 at collector 2 only"
    cat "$WORK/sender.log"; exit 1
fi
if grep -q "capturing on.*mttun0\|reloaded: capturing on.*mttun0" "$WORK/sender.log"; then
    echo "FAIL: the TUN device was captured on"; exit 1
fi
echo "--- sender log"; cat "$WORK/sender.log"
echo "PASS"
