#!/usr/bin/env bash
# ENI by id (issue 25, item 4): `--aws-interface eni-...` alone is resolved to
# the local interface through IMDSv2 (network/interfaces/macs/MAC/
# interface-id), in a namespace whose eth0 has the MAC the IMDSv2 stand-in
# (tests/cloud/servers.py, on the namespace's loopback) lists for that ENI.
# An ENI not on this instance, one whose MAC no interface here has, and IMDS
# turned off are refused with a sentence that says so.
#
# usage: eni_sender.sh BIN_DIR     (exit 77 = skipped: needs root)
set -euo pipefail

BIN=$(cd "${1:?usage: eni_sender.sh BIN_DIR}" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3
. "$HERE/netns_lib.sh"
need_root_tools ip "$PY"
need_bins "$BIN" mirrortap-sender
netns_hosts n eni

netns_add_quiet
ip -n "$A" link add eth0 address 0e:11:22:33:44:55 type veth peer name mt-npeer
ip -n "$A" addr add 10.0.0.5/24 dev eth0
ip -n "$A" link set eth0 up; ip -n "$A" link set mt-npeer up

ip netns exec "$A" "$PY" - "$BIN/mirrortap-sender" "$HERE" <<'EOF'
import os, subprocess, sys
sender, here = sys.argv[1], sys.argv[2]
sys.path.insert(0, os.path.join(here, "..", "cloud"))
from servers import Imds

HERE_ENI, OTHER_ENI, ELSEWHERE_ENI = "eni-0f1a2b3c4d5e67890", "eni-0aaa2b3c4d5e67890", "eni-0bbb2b3c4d5e67890"
interfaces = {"0e:11:22:33:44:55": HERE_ENI, "0e:99:88:77:66:55": ELSEWHERE_ENI}
data = os.path.join(here, "data")
failed = False

def run(eni, **env):
    args = [sender, "--import-aws-filter", os.path.join(data, "describe-traffic-mirror-sessions.json"),
            "--import-aws-filter", os.path.join(data, "describe-traffic-mirror-filters.json"),
            "--aws-interface", eni, "--aws-target", "tmt-0e1f2a3b4c5d67890=10.0.0.9", "--check-config"]
    environment = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    environment.update(env)
    p = subprocess.run(args, capture_output=True, text=True, env=environment, timeout=60)
    return p.returncode, p.stdout + p.stderr

def expect(what, ok, output):
    global failed
    print(("ok: " if ok else "FAIL: ") + what)
    if not ok:
        print(output)
        failed = True

with Imds(interfaces=interfaces) as imds:
    env = {"AWS_EC2_METADATA_SERVICE_ENDPOINT": imds.endpoint}
    rc, out = run(HERE_ENI, **env)
    expect(f"{HERE_ENI} is eth0 here (exit {rc})", rc == 0 and "eth0" in out, out)
    rc, out = run(OTHER_ENI, **env)
    expect(f"{OTHER_ENI}, not this instance's, is refused naming the ones that are (exit {rc})",
           rc == 1 and f"'{OTHER_ENI}' is not attached to this instance" in out and HERE_ENI in out, out)
    print("   " + next((l for l in out.splitlines() if OTHER_ENI in l), ""))
    rc, out = run(ELSEWHERE_ENI, **env)
    expect(f"{ELSEWHERE_ENI}, this instance's but on no interface here, is refused (exit {rc})",
           rc == 1 and "no interface here has that MAC" in out, out)
    print("   " + next((l for l in out.splitlines() if "no interface here" in l), ""))
    rc, out = run(HERE_ENI + "=eth0", AWS_EC2_METADATA_DISABLED="true")
    expect(f"ENI=IFACE needs no IMDS (exit {rc})", rc == 0, out)
rc, out = run(HERE_ENI, AWS_EC2_METADATA_DISABLED="true")
expect(f"IMDS turned off: refused, saying so and how to name it (exit {rc})",
       rc == 1 and "AWS_EC2_METADATA_DISABLED" in out and f"--aws-interface {HERE_ENI}=IFACE" in out, out)
sys.exit(1 if failed else 0)
EOF
echo "PASS"
