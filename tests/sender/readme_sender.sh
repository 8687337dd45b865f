#!/usr/bin/env bash
# Every command line sender/README.md shows under "Command line" works as
# written: run in a network namespace that has an eth0 and a name for
# nlb.example.com, from a directory holding the files they name
# (sender.yaml is sender/example.yaml; filters.json and sessions.json are
# AWS CLI output; trace.pcap a few frames). Checks (--check-config,
# --explain) must exit 0; runs must start capturing and exit 0 on SIGTERM.
#
# usage: readme_sender.sh BIN_DIR     (exit 77 = skipped: needs root)
set -euo pipefail

BIN=$(cd "${1:?usage: readme_sender.sh BIN_DIR}" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PY=/usr/bin/python3
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root for a network namespace"; exit 77; }
command -v ip >/dev/null || { echo "SKIP: ip not installed"; exit 77; }
. "$HERE/netns_lib.sh"
need_bins "$BIN" mirrortap-sender
netns_hosts r readme

# --- the host the README speaks of: eth0, and a name for the NLB -------------
netns_add_quiet
ip -n "$A" link add eth0 type veth peer name mt-rpeer
ip -n "$A" addr add 10.0.0.5/24 dev eth0
ip -n "$A" link set eth0 up; ip -n "$A" link set mt-rpeer up
mkdir -p "/etc/netns/$A"
echo "10.0.0.9 nlb.example.com" >"/etc/netns/$A/hosts"

# --- the files the examples name ---------------------------------------------
cp "$ROOT/sender/example.yaml" "$WORK/sender.yaml"
cp "$HERE/data/describe-traffic-mirror-sessions.json" "$WORK/sessions.json"
# One filter, as `aws ec2 describe-traffic-mirror-filters --filters Name=traffic-mirror-filter-id,...` prints it.
"$PY" - "$HERE/data/describe-traffic-mirror-filters.json" "$WORK/filters.json" <<'EOF'
import json, sys
data = json.load(open(sys.argv[1]))
json.dump({"TrafficMirrorFilters": data["TrafficMirrorFilters"][:1]}, open(sys.argv[2], "w"), indent=4)
EOF
# A pcap of two frames, as tcpdump -w writes it.
"$PY" - "$WORK/trace.pcap" <<'EOF'
import struct, sys
def frame(src, dst, proto, payload):
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 1, 0, 64, proto, 0, bytes(src), bytes(dst))
    return b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01" + b"\x08\x00" + ip + payload
frames = [frame([10, 0, 0, 5], [10, 0, 0, 9], 17, struct.pack("!HHHH", 40000, 53, 12, 0) + b"dnsq"),
          frame([10, 0, 0, 9], [10, 0, 0, 5], 6, struct.pack("!HHIIBBHHH", 443, 40000, 1, 0, 0x50, 0x12, 100, 0, 0))]
with open(sys.argv[1], "wb") as f:
    f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
    for i, b in enumerate(frames):
        f.write(struct.pack("<IIII", 1700000000 + i, 0, len(b), len(b)) + b)
EOF

# --- the examples, as written ------------------------------------------------
# The first ``` block after "## Command line"; "\" continues a line; a
# comment after the command is dropped.
mapfile -t COMMANDS < <("$PY" - "$ROOT/sender/README.md" <<'EOF'
import re, sys
text = open(sys.argv[1]).read()
section = text[text.index("## Command line"):]
block = section[section.index("```") + 3:]
block = block[block.index("\n") + 1:block.index("```")]
for command in re.sub(r"\\\n\s*", " ", block).splitlines():
    command = re.sub(r"\s+#.*$", "", command).strip()
    if command:
        print(command)
EOF
)
[ "${#COMMANDS[@]}" -ge 6 ] || { echo "FAIL: found ${#COMMANDS[@]} examples in sender/README.md"; exit 1; }
FAILED=0
n=0
for command in "${COMMANDS[@]}"; do
    n=$((n + 1))
    case "$command" in mirrortap-sender\ *) ;; *) echo "FAIL: not a sender command line: $command"; FAILED=1; continue ;; esac
    log="$WORK/example-$n.log"
    if [[ "$command" == *--check-config* || "$command" == *--explain* ]]; then
        rc=0
        ip netns exec "$A" bash -c "cd '$WORK' && PATH='$BIN':\$PATH timeout 20 $command" >"$log" 2>&1 || rc=$?
    else
        # Bounded: stopped below once it captures, or after wait_for gives up (10 s).
        ip netns exec "$A" bash -c "cd '$WORK' && PATH='$BIN':\$PATH exec $command" >"$log" 2>&1 &
        pid=$!; PIDS+=($pid)
        rc=0
        wait_for "example $n to capture" grep -q "capturing on" "$log" || rc=1
        kill -TERM "$pid" 2>/dev/null || true
        wait "$pid" || rc=$?
    fi
    if [ "$rc" -eq 0 ]; then
        echo "ok: $command"
    else
        echo "FAIL: exit $rc: $command"; sed 's/^/    /' "$log"; FAILED=1
    fi
done
[ "$FAILED" -eq 0 ] && echo "PASS: ${#COMMANDS[@]} README examples"
exit $FAILED
