#!/usr/bin/env bash
# Installs, upgrades, removes and purges the packages with dpkg itself, so
# that their real maintainer scripts run exactly as on a user's machine, but
# against a throw-away copy of this machine: a private mount namespace in
# which /etc, /usr and /var are overlays whose writes land in a scratch
# directory, /run is empty (no systemd is seen, nothing reaches the host's),
# and the network namespace is private (loopback only).
#
# Checks: install creates the mirrortap system user and group and
# /var/lib/mirrortap/captures owned by it, and does not enable the service;
# the installed collector, started the way its unit starts it (user, working
# directory, command line), receives VXLAN and writes a pcap under
# captures/; reinstall keeps an edited conffile and the same uid; remove and
# purge keep captures and the user, and clean up the unit's enablement.
# SKIP where namespaces or overlay mounts are not allowed.
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" -eq 0 ] || skip "needs root for a mount namespace with overlays"
command -v unshare >/dev/null || skip "unshare (util-linux) not found"

work="$MIRRORTAP_DEPLOY_WORK/maintainer"
rm -rf "$work" && mkdir -p "$work"
host_user_before=$(getent passwd mirrortap || true)
host_dpkg_before=$(dpkg-query -W -f='${Package} ${Status}\n' 'mirrortap-*' 2>/dev/null || true)

# The probe proves the sandbox works before anything is written: if /etc
# cannot be overlaid, nothing else is attempted.
if ! unshare --mount --net --propagation private sh -c "
        mkdir -p '$work/probe/u' '$work/probe/w' &&
        mount -t overlay overlay -o lowerdir=/etc,upperdir='$work/probe/u',workdir='$work/probe/w' /etc" \
        >"$work/probe.log" 2>&1; then
    cat "$work/probe.log"
    skip "mount/network namespaces with overlay mounts are not allowed here"
fi

names=()
cp "$(collector_deb)" "$work/mirrortap-collector.deb" && names+=(mirrortap-collector)
if [ "$HAVE_SENDER" = 1 ]; then cp "$(sender_deb)" "$work/mirrortap-sender.deb" && names+=(mirrortap-sender); fi
blast="$MIRRORTAP_BUILD_DIR/bin/mirrortap-blast"
[ -x "$blast" ] || blast=""

cat >"$work/inside.sh" <<'INSIDE'
# Runs inside the namespaces. $1 = scratch dir, $2 = traffic generator or "",
# then package names (collector first).
set -u
work=$1 blast=$2; shift 2
fails=0
ok() { echo "ok: $*"; }
bad() { echo "FAIL: $*"; fails=$((fails + 1)); }
t() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }

for d in etc usr var; do
    mkdir -p "$work/ov/$d/u" "$work/ov/$d/w"
    mount -t overlay overlay -o "lowerdir=/$d,upperdir=$work/ov/$d/u,workdir=$work/ov/$d/w" "/$d" || exit 77
    [ "$(findmnt -n -o FSTYPE "/$d")" = overlay ] || exit 77
done
mount -t tmpfs tmpfs /run || exit 77
[ ! -d /run/systemd/system ] || exit 77
ip link set lo up || exit 77

export DEBIAN_FRONTEND=noninteractive
# --force-depends: this checks the package's own scripts, not whether this
# machine has every library the binaries link (it built them, so it has).
dpkg_() { dpkg --force-depends --force-confold "$@" >>"$work/dpkg.log" 2>&1; }
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
    sed -i 's/^allowed_sources:.*/allowed_sources: []/; s/^allowed_vnis:.*/allowed_vnis: []/' \
        /etc/mirrortap/collector.yaml
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
    t "$name: dpkg -i again (upgrade path)" dpkg_ -i "$work/$name.deb"
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

unshare --mount --net --propagation private bash "$work/inside.sh" "$work" "$blast" "${names[@]}"
rc=$?
if [ "$rc" -eq 77 ]; then skip "could not set up the overlay sandbox"; fi
if [ "$rc" -ne 0 ]; then
    failures=$((failures + 1))
    echo "--- dpkg.log (tail)"; tail -20 "$work/dpkg.log"
    for f in check-config.log collector.log blast.log; do
        [ -s "$work/$f" ] && { echo "--- $f"; tail -20 "$work/$f"; }
    done
fi

check "the host itself was not touched (mirrortap user unchanged)" \
    test "$(getent passwd mirrortap || true)" = "$host_user_before"
check "the host's dpkg database was not touched" \
    test "$(dpkg-query -W -f='${Package} ${Status}\n' 'mirrortap-*' 2>/dev/null || true)" = "$host_dpkg_before"
finish
