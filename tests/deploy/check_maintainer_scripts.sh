#!/usr/bin/env bash
# Installs, upgrades, removes and purges the packages with dpkg itself, so
# that their real maintainer scripts run exactly as on a user's machine, but
# against a throw-away copy of this machine (tests/deploy/sandbox.sh: overlays
# of /etc, /usr and /var, an empty /run, policy-rc.d recording service
# actions, the rmem_max sysctl bound to a file, loopback only).
#
# Checks: install creates the mirrortap system user and group and
# /var/lib/mirrortap/captures owned by it, applies the sysctl at once (and
# says so, with sysctl's own error, when the kernel refuses it), asks for no
# service action and does not enable the service; the installed collector,
# started the way its unit starts it (user, working directory, runtime
# directory, command line), receives VXLAN, writes a pcap under captures/ and
# serves the stream on the documented /run/mirrortap/feed.sock to a reader in
# group mirrortap only; reinstall keeps an edited conffile and the same uid and
# asks for try-restart; remove asks for stop; remove and purge keep captures
# and the user, and clean up the unit's enablement.
# SKIP where namespaces or overlay mounts are not allowed.
. "$(dirname "$0")/lib.sh"

work="$MIRRORTAP_DEPLOY_WORK/maintainer"
rm -rf "$work" && mkdir -p "$work"

names=()
cp "$(collector_deb)" "$work/mirrortap-collector.deb" && names+=(mirrortap-collector)
if [ "$HAVE_SENDER" = 1 ]; then cp "$(sender_deb)" "$work/mirrortap-sender.deb" && names+=(mirrortap-sender); fi
blast="$MIRRORTAP_BUILD_DIR/bin/mirrortap-blast"
[ -x "$blast" ] || blast=""

cat >"$work/inside.sh" <<'INSIDE'
# Runs inside the namespaces. $1 = scratch dir, $2 = traffic generator or "",
# then package names (collector first).
work=$1 blast=$2; shift 2
. "$MIRRORTAP_SANDBOX"
wants=/etc/systemd/system/multi-user.target.wants
uid_first=""

# Starts the installed collector as its unit does, feeds it VXLAN, stops it
# with SIGTERM, and looks for the pcap.
run_collector_like_the_unit() {
    local unit=/usr/lib/systemd/system/mirrortap-collector.service
    local user wd start pre
    user=$(sed -n 's/^User=//p' "$unit")
    wd=$(sed -n 's/^WorkingDirectory=//p' "$unit")
    pre=$(sed -n 's/^ExecStartPre=//p' "$unit")
    start=$(sed -n 's/^ExecStart=//p' "$unit")
    # Accept every source and VNI: the example config allows only its own.
    # The live stream on the socket deploy/ids/README.md documents.
    sed -i 's/^allowed_sources:.*/allowed_sources: []/; s/^allowed_vnis:.*/allowed_vnis: []/' \
        /etc/mirrortap/collector.yaml
    sed -i 's|^stream:.*|stream: "unix:/run/mirrortap/feed.sock"|' /etc/mirrortap/collector.yaml
    local rundir
    rundir=$(make_runtime_directory "$unit")
    t "the unit's RuntimeDirectory is /run/mirrortap" test "$rundir" = /run/mirrortap
    local as_unit=(setpriv --reuid="$user" --regid="$user" --init-groups --no-new-privs
                   --inh-caps=-all --bounding-set=-all)
    t "ExecStartPre ($pre) passes as $user" \
        sh -c "cd '$wd' && ${as_unit[*]} $pre >'$work/check-config.log' 2>&1"
    (cd "$wd" && exec "${as_unit[@]}" $start) >"$work/collector.log" 2>&1 &
    local pid=$!
    local port i
    port=$(sed -n 's/^metrics_listen: *[^:]*:\([0-9]*\).*/\1/p' /etc/mirrortap/collector.yaml)
    for i in $(seq 50); do
        [ -n "$port" ] && (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
        sleep 0.1
    done
    "$blast" --target 127.0.0.1:4789 --sessions 2 --vni-base 501 --count 2000 --quiet >"$work/blast.log" 2>&1
    local sock=/run/mirrortap/feed.sock
    t "the stream socket $sock is there, mirrortap's, srw-rw----" \
        test "$(stat -c '%U:%G %A' "$sock" 2>&1)" = "mirrortap:mirrortap srw-rw----"
    # A reader in group mirrortap (an IDS) connects and gets the pcap header;
    # any other user cannot even reach the socket.
    # Exits 0 with a pcap header read, 3 when refused for want of permission.
    local read_header='import socket, sys
s = socket.socket(socket.AF_UNIX); s.settimeout(5)
try:
    s.connect(sys.argv[1])
except PermissionError:
    sys.exit(3)
h = b""
while len(h) < 24:
    b = s.recv(24 - len(h))
    if not b: break
    h += b
sys.exit(0 if h[:4] in (bytes.fromhex("d4c3b2a1"), bytes.fromhex("4d3cb2a1")) else 1)'
    # Debian's python3: a user's own (pyenv, venv) may not be reachable by nobody.
    t "a reader in group mirrortap gets a pcap header from $sock" \
        setpriv --reuid=nobody --regid=mirrortap --clear-groups /usr/bin/python3 -c "$read_header" "$sock"
    setpriv --reuid=nobody --regid=nogroup --clear-groups /usr/bin/python3 -c "$read_header" "$sock"
    t "a user outside group mirrortap is refused at $sock (permission)" test $? -eq 3
    sleep 1
    kill -TERM "$pid"
    wait "$pid"
    local rc=$?
    t "collector run as $user in $wd exits 0 on SIGTERM (log: collector.log)" test "$rc" -eq 0
    local pcaps
    pcaps=$(find /var/lib/mirrortap/captures -name '*.pcap' -size +24c 2>/dev/null)
    echo "$pcaps" | sed 's/^/    /'
    t "pcaps are written under /var/lib/mirrortap/captures/<session>/" test -n "$pcaps"
    t "pcaps belong to mirrortap and are not world-readable" \
        sh -c "find /var/lib/mirrortap/captures -name '*.pcap' ! -user mirrortap -o -name '*.pcap' -perm -o=r | grep -q . && exit 1 || exit 0"
}

for name in "$@"; do
    unit="$name.service"
    echo "--- $name"
    t "$name: dpkg -i (fresh install)" dpkg_ -i "$work/$name.deb"
    t "$name: fresh install asks for no service action" test -z "$(new_service_actions)"
    if [ "$name" = mirrortap-collector ]; then
        t "postinst applied net.core.rmem_max at once (it reads $(cat "$work/rmem_max"))" \
            test "$(cat "$work/rmem_max")" = 67108864
    fi
    t "$name: dpkg says installed" \
        test "$(dpkg-query -W -f='${Status}' "$name")" = "install ok installed"
    t "$name: mirrortap user exists" sh -c "getent passwd mirrortap >/dev/null"
    IFS=: read -r _ _ uid gid _ home shell <<<"$(getent passwd mirrortap)"
    t "$name: mirrortap is a system user (uid $uid < 1000)" test "$uid" -lt 1000
    t "$name: mirrortap cannot log in ($shell)" test "$shell" = /usr/sbin/nologin
    t "$name: mirrortap's home is /var/lib/mirrortap" test "$home" = /var/lib/mirrortap
    t "$name: mirrortap's primary group is mirrortap" test "$(getent group "$gid" | cut -d: -f1)" = mirrortap
    [ -z "$uid_first" ] && uid_first=$uid
    t "$name: both packages share one mirrortap uid" test "$uid" = "$uid_first"
    t "$name: installing does not enable the service" test ! -e "$wants/$unit"
    if command -v deb-systemd-helper >/dev/null; then
        t "$name: postinst recorded the unit's links for purge (deb-systemd-helper)" \
            test -f "/var/lib/systemd/deb-systemd-helper-enabled/$unit.dsh-also"
    fi

    conf=""
    [ "$name" = mirrortap-collector ] && conf=/etc/mirrortap/collector.yaml
    [ "$name" = mirrortap-sender ] && conf=/etc/mirrortap/sender.yaml
    [ -f "$conf" ] || conf=""

    if [ "$name" = mirrortap-collector ]; then
        t "captures/ is mirrortap:mirrortap 750" \
            test "$(stat -c '%U:%G %a' /var/lib/mirrortap/captures)" = "mirrortap:mirrortap 750"
        t "/var/lib/mirrortap is root:mirrortap 750" \
            test "$(stat -c '%U:%G %a' /var/lib/mirrortap)" = "root:mirrortap 750"
        t "an unrelated user cannot list captures" \
            setpriv --reuid=nobody --regid=nogroup --clear-groups \
            sh -c '! ls /var/lib/mirrortap/captures >/dev/null 2>&1'
        if [ -x /usr/bin/mirrortap-collector ] && [ -n "$conf" ] && [ -n "$blast" ]; then
            run_collector_like_the_unit
        else
            echo "note: no collector binary, config or traffic generator; not run"
        fi
    fi

    # An admin edits the config; an upgrade (same package again) keeps it.
    [ -n "$conf" ] && echo "# edited by the admin" >>"$conf"
    if [ "$name" = mirrortap-collector ]; then
        # A kernel that refuses the setting (a container's read-only /proc/sys).
        echo "$RMEM_MAX_BEFORE" >"$work/rmem_max"
        mount -o remount,bind,ro /proc/sys/net/core/rmem_max
    fi
    t "$name: dpkg -i again (upgrade path)" dpkg_ -i "$work/$name.deb"
    t "$name: upgrade asks for try-restart (a running service gets the new binary)" \
        test "$(new_service_actions)" = "$unit try-restart"
    if [ "$name" = mirrortap-collector ]; then
        t "a refused sysctl does not fail the install but is reported, with sysctl's own error" \
            sh -c "grep -q 'could not apply /usr/lib/sysctl.d/60-mirrortap-collector.conf' '$work/dpkg.step' &&
                   grep -q 'sysctl: .*rmem_max' '$work/dpkg.step'"
        sed 's/^/    /' "$work/dpkg.step" | grep -i sysctl
        mount -o remount,bind,rw /proc/sys/net/core/rmem_max
    fi
    t "$name: upgrade keeps the same uid" test "$(id -u mirrortap)" = "$uid"
    if [ -n "$conf" ]; then
        t "$name: upgrade keeps the admin's edit of $conf (conffile)" grep -q 'edited by the admin' "$conf"
    fi
    if [ "$name" = mirrortap-collector ]; then
        t "upgrade keeps captures/ owned by mirrortap" \
            test "$(stat -c '%U:%G' /var/lib/mirrortap/captures)" = "mirrortap:mirrortap"
    fi

    # The operator enables the unit, as `systemctl enable` would.
    mkdir -p "$wants"
    ln -sf "/usr/lib/systemd/system/$unit" "$wants/$unit"

    t "$name: dpkg -r" dpkg_ -r "$name"
    t "$name: remove asks for stop" test "$(new_service_actions)" = "$unit stop"
    t "$name: remove leaves the config" sh -c "[ -z '$conf' ] || [ -f '$conf' ]"
    t "$name: dpkg -P" dpkg_ -P "$name"
    t "$name: purge removes the config" sh -c "[ -z '$conf' ] || [ ! -e '$conf' ]"
    t "$name: purge removes the unit's enablement" test ! -e "$wants/$unit"
    t "$name: purge leaves no mask behind" test ! -L "/etc/systemd/system/$unit"
    t "$name: purge keeps the mirrortap user (files it owns stay owned)" \
        sh -c "getent passwd mirrortap >/dev/null"
done
if [ -n "$(find /var/lib/mirrortap/captures -name '*.pcap' 2>/dev/null)" ]; then
    ok "purge keeps captures that hold files"
fi
exit $((fails > 0))
INSIDE

if ! run_in_sandbox "$work" "$work/inside.sh" "$blast" "${names[@]}"; then
    failures=$((failures + 1))
    echo "--- dpkg.log (tail)"; tail -20 "$work/dpkg.log"
    for f in check-config.log collector.log blast.log; do
        [ -s "$work/$f" ] && { echo "--- $f"; tail -20 "$work/$f"; }
    done
fi
finish
