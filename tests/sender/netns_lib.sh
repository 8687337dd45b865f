# Sourced by the sender's namespace tests (e2e, reload, loop, bench): three
# hosts A, B, C as network namespaces named after the test and its pid, a
# work directory, background processes in PIDS; all of it removed on exit.
#
#   netns_hosts TAG WORKNAME    sets A B C WORK PIDS and the exit trap
#   netns_add_quiet            creates A B C with lo up and no IPv6 autoconfiguration
#   netns_link_hosts NET        veth pairs ab-ba (A-B, 10.NET.1.1 and .2/24) and ac-ca
#                               (A-C, 10.NET.2.1 and .2/24), up
#   need_bins DIR NAME...       FAIL unless each $DIR/NAME is executable
#   need_root_tools TOOL...     SKIP (exit 77) unless root and each TOOL is on PATH
#   wait_for WHAT CMD...        polls CMD every 0.1 s, at most 100 times;
#                               on a timeout prints $WAIT_LOG when set

netns_hosts() {
    A=mt-$1a-$$ B=mt-$1b-$$ C=mt-$1c-$$
    WORK=$(mktemp -d "/tmp/mt-sender-$2.XXXXXX")
    PIDS=()
    trap netns_cleanup EXIT
}

netns_add_quiet() {
    for ns in "$A" "$B" "$C"; do
        ip netns add "$ns"
        ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.accept_ra=0 net.ipv6.conf.default.accept_ra=0 \
            net.ipv6.conf.all.router_solicitations=0 net.ipv6.conf.default.router_solicitations=0
        ip -n "$ns" link set lo up
    done
}

netns_cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    for ns in "$A" "$B" "$C"; do ip netns del "$ns" 2>/dev/null || true; done
    rm -rf "/etc/netns/$A"
    if [ "${KEEP_WORK:-0}" = 1 ]; then echo "work dir kept: $WORK"; else rm -rf "$WORK"; fi
}

netns_link_hosts() {
    ip -n "$A" link add ab type veth peer name ba netns "$B"
    ip -n "$A" link add ac type veth peer name ca netns "$C"
    ip -n "$A" addr add "10.$1.1.1/24" dev ab
    ip -n "$B" addr add "10.$1.1.2/24" dev ba
    ip -n "$A" addr add "10.$1.2.1/24" dev ac
    ip -n "$C" addr add "10.$1.2.2/24" dev ca
    for l in "$A ab" "$A ac" "$B ba" "$C ca"; do set -- $l; ip -n "$1" link set "$2" up; done
}

need_root_tools() {
    [ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root for network namespaces"; exit 77; }
    for tool in "$@"; do command -v "$tool" >/dev/null || { echo "SKIP: $tool not installed"; exit 77; }; done
}

need_bins() {
    local dir=$1; shift
    for b in "$@"; do [ -x "$dir/$b" ] || { echo "FAIL: $dir/$b not built"; exit 1; }; done
}

wait_for() {
    local what=$1; shift
    for _ in $(seq 1 100); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
    echo "FAIL: timed out waiting for $what"
    if [ -n "${WAIT_LOG:-}" ]; then echo "--- $WAIT_LOG"; cat "$WAIT_LOG"; fi
    return 1
}
