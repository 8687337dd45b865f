#!/usr/bin/env bash
# CPU per mirrored packet: mirrortap-sender against the kernel's own path for
# the same job (tc mirred to a vxlan device), same stream, same run. Two
# measures: whole-machine CPU from /proc/stat (docs/design.md §7: user+nice+system+
# irq+softirq), which means something only on an otherwise idle machine, and
# the CPU of the processes of the run (generator, both drains, the sender):
# tc's and veth's softirq work runs in the generator's context, so it is in
# there too. On a shared machine, read the second.
#
# Host A sends a fixed stream to B over a veth pair (mirrortap-blast, UDP,
# 200-byte frames, fixed rate); A's egress is mirrored to C, where
# mirrortap-drain counts what arrives. Runs: no mirroring (baseline),
# mirrortap-sender (accept all, one session), tc u32 + mirred to vxlan.
# Cost = (busy - baseline busy) / mirrored packets. Loss is reported first.
#
# OFFLOADS=off turns the veths' segmentation, receive offloads and checksum
# offloads off (ethtool -K), so that every path computes every checksum
# itself; the default leaves the veths as the kernel makes them.
#
# usage: [OFFLOADS=on|off] bench_sender.sh BIN_DIR [COUNT] [RATE_PPS] [ROUNDS]   (root; 77 = skipped)
set -euo pipefail
BIN=${1:?usage: bench_sender.sh BIN_DIR [COUNT] [RATE_PPS] [ROUNDS]}
COUNT=${2:-300000}
RATE=${3:-50000}
ROUNDS=${4:-2}
OFFLOADS=${OFFLOADS:-on}
[[ $OFFLOADS == on || $OFFLOADS == off ]] || { echo "FAIL: OFFLOADS is on or off"; exit 1; }
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root"; exit 77; }
for b in mirrortap-sender mirrortap-blast mirrortap-drain; do
    [ -x "$BIN/$b" ] || { echo "FAIL: $BIN/$b not built"; exit 1; }
done

A=mt-ba-$$ B=mt-bb-$$ C=mt-bc-$$
WORK=$(mktemp -d /tmp/mt-sender-bench.XXXXXX)
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    for ns in "$A" "$B" "$C"; do ip netns del "$ns" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT

ip netns add "$A"; ip netns add "$B"; ip netns add "$C"
for ns in "$A" "$B" "$C"; do ip -n "$ns" link set lo up; done
ip -n "$A" link add ab type veth peer name ba netns "$B"
ip -n "$A" link add ac type veth peer name ca netns "$C"
ip -n "$A" addr add 10.78.1.1/24 dev ab; ip -n "$B" addr add 10.78.1.2/24 dev ba
ip -n "$A" addr add 10.78.2.1/24 dev ac; ip -n "$C" addr add 10.78.2.2/24 dev ca
for l in "$A ab" "$A ac" "$B ba" "$C ca"; do set -- $l; ip -n "$1" link set "$2" up; done
if [ "$OFFLOADS" = off ]; then
    command -v ethtool >/dev/null || { echo "SKIP: OFFLOADS=off needs ethtool"; exit 77; }
    for l in "$A ab" "$A ac" "$B ba" "$C ca"; do
        set -- $l
        ip netns exec "$1" ethtool -K "$2" tso off gso off gro off tx off rx off >/dev/null
    done
fi
ip netns exec "$A" ping -c 1 -q 10.78.1.2 >/dev/null; ip netns exec "$A" ping -c 1 -q 10.78.2.2 >/dev/null

busy_ticks() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8}' /proc/stat; }
TICK_NS=$((1000000000 / $(getconf CLK_TCK)))

proc_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
cpu_seconds() { grep -oE 'cpu [0-9.]+ s' "$1" | grep -oE '[0-9.]+' | head -1; }

# run NAME: one pass of the stream; prints "NAME busy_ticks sent received_B mirrored_C process_cpu_ms"
run() {
    local name=$1
    ip netns exec "$B" "$BIN/mirrortap-drain" --listen 10.78.1.2:4789 --idle-ms 1500 --quiet >"$WORK/b.out" 2>&1 &
    local drain_b=$!; PIDS+=($drain_b)
    ip netns exec "$C" "$BIN/mirrortap-drain" --listen 10.78.2.2:4789 --idle-ms 1500 --quiet >"$WORK/c.out" 2>&1 &
    local drain_c=$!; PIDS+=($drain_c)
    sleep 0.3
    local t0; t0=$(busy_ticks)
    ip netns exec "$A" "$BIN/mirrortap-blast" --target 10.78.1.2:4789 --sessions 8 --size 200 \
        --count "$COUNT" --rate "$RATE" --quiet >"$WORK/blast.out" 2>&1
    sleep 0.5
    local t1; t1=$(busy_ticks)
    # A drain that saw nothing never stops on its own.
    sleep 1.2; kill "$drain_b" "$drain_c" 2>/dev/null || true
    wait "$drain_b" "$drain_c" 2>/dev/null || true
    local sender_ms=0
    if [ -n "${SENDER:-}" ]; then sender_ms=$(( $(proc_ticks "$SENDER") * TICK_NS / 1000000 - SENDER_MS0 )); SENDER_MS0=$((SENDER_MS0 + sender_ms)); fi
    local proc_ms
    proc_ms=$(awk -v a="$(cpu_seconds "$WORK/blast.out")" -v b="$(cpu_seconds "$WORK/b.out")" \
        -v c="$(cpu_seconds "$WORK/c.out")" -v s="$sender_ms" 'BEGIN {printf "%.0f", (a + b + c) * 1000 + s}')
    local got_b got_c
    got_b=$(grep -oE 'received [0-9]+' "$WORK/b.out" | grep -oE '[0-9]+'); got_c=$(grep -oE 'received [0-9]+' "$WORK/c.out" | grep -oE '[0-9]+')
    echo "$name $((t1 - t0)) $COUNT ${got_b:-0} ${got_c:-0} $proc_ms"
}

sender_on() {
    ip netns exec "$A" "$BIN/mirrortap-sender" -i ab -t 10.78.2.2 --vni 1 --accept-all >"$WORK/sender.log" 2>&1 &
    SENDER=$!; PIDS+=($SENDER)
    for _ in $(seq 1 50); do grep -q "capturing on" "$WORK/sender.log" && break; sleep 0.1; done
    SENDER_MS0=$(( $(proc_ticks "$SENDER") * TICK_NS / 1000000 ))
}
sender_off() { kill -TERM "$SENDER"; wait "$SENDER" || true; SENDER=; sed 's/^/    sender: /' "$WORK/sender.log" | tail -4 >&2; }
kernel_on() {
    ip -n "$A" link add vx0 type vxlan id 1 remote 10.78.2.2 dstport 4789 dev ac
    ip -n "$A" link set vx0 up
    ip netns exec "$A" tc qdisc add dev ab clsact
    ip netns exec "$A" tc filter add dev ab egress protocol all u32 match u32 0 0 action mirred egress mirror dev vx0
    ip netns exec "$A" tc filter add dev ab ingress protocol all u32 match u32 0 0 action mirred egress mirror dev vx0
}
kernel_off() { ip netns exec "$A" tc qdisc del dev ab clsact; ip -n "$A" link del vx0; }

LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
SENDER=
: >"$WORK/results"
for r in $(seq 1 "$ROUNDS"); do
    run baseline >>"$WORK/results"
    sender_on; run mirrortap-sender >>"$WORK/results"; sender_off
    kernel_on; run tc-mirred-vxlan >>"$WORK/results"; kernel_off
done

echo "stream: $COUNT datagrams of 200-byte frames at $RATE/s, A -> B; A's traffic mirrored to C"
echo "offloads: $OFFLOADS"
echo "rounds: $ROUNDS (per configuration, the round with the least process CPU is shown)"
echo "load average before: $LOAD0"
awk -v tick="$TICK_NS" '
    { if (!($1 in best) || $6 < best[$1]) { best[$1] = $6; busy[$1] = $2; b[$1] = $4; c[$1] = $5 } }
    END {
        printf "%-18s %9s %9s %13s %13s %12s %12s\n", "config", "to B", "mirrored", "machine ms", "process ms",
               "machine ns/m", "process ns/m"
        for (k in best) {
            pm = (c[k] > 0 && k != "baseline") ? sprintf("%.0f", (busy[k] - busy["baseline"]) * tick / c[k]) : "-"
            pp = (c[k] > 0 && k != "baseline") ? sprintf("%.0f", (best[k] - best["baseline"]) * 1e6 / c[k]) : "-"
            printf "%-18s %9d %9d %13.0f %13.0f %12s %12s\n", k, b[k], c[k], busy[k] * tick / 1e6, best[k], pm, pp
        }
    }' "$WORK/results"
echo "raw: $(tr '\n' ';' <"$WORK/results")"
