#!/usr/bin/env bash
# The command line against bad input: each mistake is a clear error naming
# the file, line and column, and exit status 1. Needs no privileges.
# usage: cli_sender.sh BIN_DIR
set -uo pipefail
BIN=${1:?usage: cli_sender.sh BIN_DIR}
HERE=$(cd "$(dirname "$0")" && pwd)
S="$BIN/mirrortap-sender"
WORK=$(mktemp -d /tmp/mt-sender-cli.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
FAILED=0

# expect NAME WANT_STATUS WANT_TEXT -- ARGS...: runs the sender, checks status and output.
expect() {
    local name=$1 status=$2 text=$3; shift 4
    local out rc
    out=$(timeout 20 "$S" "$@" 2>&1); rc=$?  # bounded: a FIFO must never make it wait
    if [ "$rc" -ne "$status" ] || ! grep -qF -- "$text" <<<"$out"; then
        echo "FAIL: $name: status $rc (want $status), output:"; echo "$out" | sed 's/^/    /'
        echo "    wanted: $text"
        FAILED=1
    else
        echo "ok: $name"
    fi
}

session='sessions:
  - session_number: 1
    virtual_network_id: 5
    filter:
      egress:'

printf 'interface: [lo, mt-nosuch0]\ntarget: 127.0.0.1\n%s\n        - {rule_number: 1, rule_action: accept}\n' "$session" >"$WORK/iface.yaml"
expect "unknown interface names the line" 1 "$WORK/iface.yaml:1:17: interface: no such interface 'mt-nosuch0'" -- \
    -c "$WORK/iface.yaml" --check-config
expect "unknown interface on the command line" 1 "interface: no such interface 'mt-nosuch1'" -- \
    -c "$WORK/iface.yaml" -i mt-nosuch1 --check-config

printf 'interface: lo\ntarget: collector.mirrortap.invalid:4789\n%s\n        - {rule_number: 1, rule_action: accept}\n' "$session" >"$WORK/target.yaml"
expect "unresolvable target names the line" 1 "$WORK/target.yaml:2:9: target: cannot resolve 'collector.mirrortap.invalid'" -- \
    -c "$WORK/target.yaml" --check-config

printf 'interface: lo\ntarget: 127.0.0.1\n%s\n        - {rule_number: 1, rule_action: accept, protocol: 1,\n           destination_port_range: {from_port: 1, to_port: 9}}\n' "$session" >"$WORK/icmp.yaml"
expect "port range with ICMP names the line" 1 "$WORK/icmp.yaml:8:59: a port range needs protocol 6 (tcp) or 17 (udp); this rule has protocol 1" -- \
    -c "$WORK/icmp.yaml" --check-config

printf 'interface: lo\ntarget: 127.0.0.1\n%s\n        - {rule_number: 7, rule_action: accept}\n        - {rule_number: 7, rule_action: reject}\n' "$session" >"$WORK/dup.yaml"
expect "duplicate rule numbers name the line" 1 "$WORK/dup.yaml:9:11: duplicate rule_number 7 in egress rules (first at line 8)" -- \
    -c "$WORK/dup.yaml" --check-config

printf 'interface: lo\ntarget: 127.0.0.1\nmtu: 1500\nmut: 9001\n' >"$WORK/key.yaml"
expect "unknown key names the line" 1 "$WORK/key.yaml:4:1: unknown key 'mut' in the top level" -- \
    -c "$WORK/key.yaml" --check-config

printf 'interface: lo\ntarget: 127.0.0.1\n' >"$WORK/nosessions.yaml"
expect "no sessions is an error" 1 "no sessions: nothing would be mirrored" -- -c "$WORK/nosessions.yaml" --check-config

printf 'interface: lo\ntarget: 127.0.0.1\nsessions:\n  - {session_number: 1, virtual_network_id: 5, traffic_mirror_filter_id: tmf-0a1b2c3d4e5f67890}\n' >"$WORK/aws.yaml"
expect "an imported AWS filter runs by id" 0 "session 1 vni 5 (session-1), filter tmf-0a1b2c3d4e5f67890: 2 egress rule(s), 2 ingress rule(s)" -- \
    -c "$WORK/aws.yaml" --import-aws-filter "$HERE/data/describe-traffic-mirror-filters.json" --check-config
expect "an imported AWS filter prints as YAML" 0 "  - {rule_number: 100, rule_action: reject, protocol: 6, source_cidr_block: 0.0.0.0/0, destination_cidr_block: 0.0.0.0/0, destination_port_range: {from_port: 22, to_port: 22}, description: \"no SSH\"}" -- \
    -c "$WORK/aws.yaml" --import-aws-filter "$HERE/data/describe-traffic-mirror-filters.json" --check-config
expect "an unknown filter id names the line" 1 "$WORK/aws.yaml:4:74: traffic_mirror_filter_id 'tmf-0a1b2c3d4e5f67890' is not among the imported AWS filters" -- \
    -c "$WORK/aws.yaml" --check-config
expect "AWS JSON alone is checked and printed" 0 "2 filter(s), 0 session(s), 0 target(s) imported; import OK" -- \
    --import-aws-filter "$HERE/data/describe-traffic-mirror-filters.json" --check-config
expect "sessions and targets import" 0 "# imported session tms-0d1e2f3a4b5c67890: session_number 1, virtual_network_id 13314501, packet_length 128, from eni-0f1a2b3c4d5e67890 to tmt-0e1f2a3b4c5d67890, filter tmf-0a1b2c3d4e5f67890" -- \
    --import-aws-filter "$HERE/data/describe-traffic-mirror-sessions.json" \
    --import-aws-filter "$HERE/data/describe-traffic-mirror-targets.json" --check-config
expect "an imported session runs on this host's ENI" 0 "session 1 vni 13314501 (web tier), packet_length 128, filter tmf-0a1b2c3d4e5f67890: 2 egress rule(s), 2 ingress rule(s); on lo, to 127.0.0.1:4789" -- \
    --import-aws-filter "$HERE/data/describe-traffic-mirror-sessions.json" \
    --import-aws-filter "$HERE/data/describe-traffic-mirror-filters.json" \
    --aws-interface eni-0f1a2b3c4d5e67890=lo --aws-target tmt-0e1f2a3b4c5d67890=127.0.0.1 --check-config
expect "imported sessions of other ENIs are left out, said once" 0 "note: 1 imported session(s) of network interfaces that are not this host's (no --aws-interface ENI=IFACE for them) left out: tms-01a2b3c4d5e6f7890 (eni-0aaa2b3c4d5e67890)" -- \
    --import-aws-filter "$HERE/data/describe-traffic-mirror-sessions.json" \
    --import-aws-filter "$HERE/data/describe-traffic-mirror-filters.json" \
    --aws-interface eni-0f1a2b3c4d5e67890=lo --aws-target tmt-0e1f2a3b4c5d67890=127.0.0.1 --check-config
expect "an imported session needs its target's address" 1 "imported session tms-0d1e2f3a4b5c67890 sends to tmt-0e1f2a3b4c5d67890 (network-load-balancer arn:aws:elasticloadbalancing:eu-west-1:111122223333:loadbalancer/net/collectors/0a1b2c3d4e5f6789): say where it is reached with --aws-target tmt-0e1f2a3b4c5d67890=HOST[:PORT]" -- \
    --import-aws-filter "$HERE/data/describe-traffic-mirror-sessions.json" \
    --import-aws-filter "$HERE/data/describe-traffic-mirror-targets.json" \
    --import-aws-filter "$HERE/data/describe-traffic-mirror-filters.json" --aws-interface eni-0f1a2b3c4d5e67890=lo --check-config
expect "the example config is good" 0 "config OK" -- -c "$HERE/../../sender/example.yaml" -i lo -t 127.0.0.1 --check-config
printf 'interface: lo\ntarget: 127.0.0.1\ninterface: eth0\n' >"$WORK/twice.yaml"
expect "a key given twice names both lines" 1 "$WORK/twice.yaml:3:1: key 'interface' given twice in one mapping (first at line 1)" -- \
    -c "$WORK/twice.yaml" --check-config
expect "a directory as the config is refused" 1 "$WORK: cannot read config file: it is a directory, not a regular file" -- \
    -c "$WORK" --check-config
mkfifo "$WORK/fifo.yaml"
expect "a FIFO as the config is refused, without waiting for a writer" 1 "cannot read config file: it is a FIFO, not a regular file" -- \
    -c "$WORK/fifo.yaml" --check-config
: >"$WORK/empty.yaml"
expect "an empty config is refused" 1 "$WORK/empty.yaml: config file is empty" -- -c "$WORK/empty.yaml" --check-config
expect "short flags with their values attached" 0 "session 1 vni 5 (session-1)" -- -ilo -t127.0.0.1 --vni 5 --accept-all --check-config
expect "a flag's value with a control character is echoed escaped" 2 "bad --mtu: expected a whole number, got '15\\n00'" -- \
    --mtu "$(printf '15\n00')" --check-config
expect "a flag without its value" 2 "option '--target' needs a value" -- --check-config --target
expect "--help answers whatever else is wrong" 0 "Usage: mirrortap-sender" -- --frobnicate --help
expect "--help reads like tcpdump's" 0 "Usage: mirrortap-sender [ -c config.yaml ] [ -i interface ]..." -- --help
expect "--version" 0 "mirrortap-sender " -- --version
expect "bad --max-rate" 2 "bad --max-rate: expected a rate such as 20000pps" -- --max-rate 12 --check-config
expect "unknown flag" 2 "mirrortap-sender: unknown option '--frobnicate' (see --help)" -- --frobnicate
expect "--help lists every flag from the table" 0 "-B, --buffer-size BYTES" -- --help

exit $FAILED
