#!/usr/bin/env bash
# Runs the packages' real maintainer scripts, as dpkg would, against a
# throw-away copy of this machine: a private mount namespace in which /etc,
# /usr and /var are overlays whose writes land in a scratch directory, and
# /run is empty (so no systemd is seen and nothing touches the host's).
# Checks: postinst creates the mirrortap system user and group and
# /var/lib/mirrortap/captures owned by it, is idempotent on upgrade, does not
# enable the service; prerm/postrm on remove and purge leave captures alone
# and clean up the unit's enablement. SKIP where overlay mounts are not allowed.
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" -eq 0 ] || skip "needs root for a mount namespace with overlays"
command -v unshare >/dev/null || skip "unshare (util-linux) not found"

work="$MIRRORTAP_DEPLOY_WORK/maintainer"
rm -rf "$work" && mkdir -p "$work"
host_user_before=$(getent passwd mirrortap || true)

# The probe proves the sandbox works before anything is written: if /etc
# cannot be overlaid, nothing else is attempted.
if ! unshare --mount --propagation private sh -c "
        mkdir -p '$work/probe/u' '$work/probe/w' &&
        mount -t overlay overlay -o lowerdir=/etc,upperdir='$work/probe/u',workdir='$work/probe/w' /etc" \
        >"$work/probe.log" 2>&1; then
    cat "$work/probe.log"
    skip "overlay mounts are not allowed here (container without CAP_SYS_ADMIN?)"
fi

debs=("$(collector_deb)")
[ "$HAVE_SENDER" = 1 ] && debs+=("$(sender_deb)")
for deb in "${debs[@]}"; do
    name=$(dpkg-deb -f "$deb" Package)
    mkdir -p "$work/$name"
    dpkg-deb --control "$deb" "$work/$name/control"
done

cat >"$work/inside.sh" <<'INSIDE'
# Runs inside the namespace. $1 = scratch dir; then package names.
set -u
work=$1; shift
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

wants=/etc/systemd/system/multi-user.target.wants
uid_first=""
for name in "$@"; do
    ctl="$work/$name/control"
    unit="$name.service"
    # What dpkg tells every maintainer script (deb-systemd-helper insists).
    export DPKG_MAINTSCRIPT_PACKAGE=$name DPKG_MAINTSCRIPT_ARCH=$(dpkg --print-architecture) DPKG_ROOT=""
    echo "--- $name"
    # What dpkg does on a fresh install: unpack, then postinst configure.
    dpkg-deb -x "$work/$name.deb" /
    t "$name: postinst configure (fresh install) succeeds" "$ctl/postinst" configure ""
    t "$name: mirrortap user exists" sh -c "getent passwd mirrortap >/dev/null"
    IFS=: read -r _ _ uid gid _ home shell <<<"$(getent passwd mirrortap)"
    t "$name: mirrortap is a system user (uid $uid < 1000)" test "$uid" -lt 1000
    t "$name: mirrortap cannot log in ($shell)" test "$shell" = /usr/sbin/nologin
    t "$name: mirrortap's home is /var/lib/mirrortap" test "$home" = /var/lib/mirrortap
    t "$name: mirrortap's primary group is mirrortap" test "$(getent group "$gid" | cut -d: -f1)" = mirrortap
    [ -z "$uid_first" ] && uid_first=$uid
    t "$name: both packages share one mirrortap uid" test "$uid" = "$uid_first"
    t "$name: service not enabled by installing" test ! -e "$wants/$unit"
    if command -v deb-systemd-helper >/dev/null; then
        t "$name: postinst recorded the unit's links for purge (deb-systemd-helper)" \
            test -f "/var/lib/systemd/deb-systemd-helper-enabled/$unit.dsh-also"
    fi

    if [ "$name" = mirrortap-collector ]; then
        t "captures/ is mirrortap:mirrortap 750" \
            test "$(stat -c '%U:%G %a' /var/lib/mirrortap/captures)" = "mirrortap:mirrortap 750"
        t "/var/lib/mirrortap is root:mirrortap 750" \
            test "$(stat -c '%U:%G %a' /var/lib/mirrortap)" = "root:mirrortap 750"
        t "the mirrortap user can write a capture" \
            setpriv --reuid=mirrortap --regid=mirrortap --clear-groups \
            sh -c 'echo x >/var/lib/mirrortap/captures/probe.pcap'
        t "an unrelated user cannot read captures" \
            setpriv --reuid=nobody --regid=nogroup --clear-groups \
            sh -c '! ls /var/lib/mirrortap/captures >/dev/null 2>&1'
    fi

    # Upgrade: postinst configure <old-version> again, same result.
    t "$name: postinst configure (upgrade) succeeds" "$ctl/postinst" configure 0.0.1
    t "$name: upgrade keeps the same uid" test "$(id -u mirrortap)" = "$uid"
    t "$name: unknown postinst argument is refused" sh -c "! '$ctl/postinst' bogus 2>/dev/null"

    # An operator enables the unit, as `systemctl enable` would.
    mkdir -p "$wants"
    ln -sf "/usr/lib/systemd/system/$unit" "$wants/$unit"

    # Remove, then purge.
    t "$name: prerm remove succeeds" "$ctl/prerm" remove
    t "$name: postrm remove succeeds" "$ctl/postrm" remove
    t "$name: postrm purge succeeds" "$ctl/postrm" purge
    t "$name: purge removes the unit's enablement" test ! -e "$wants/$unit"
    t "$name: purge leaves no mask behind" test ! -L "/etc/systemd/system/$unit"
    t "$name: purge keeps the mirrortap user (files it owns stay owned)" sh -c "getent passwd mirrortap >/dev/null"
done
if [ -e /var/lib/mirrortap/captures/probe.pcap ]; then
    t "purges keep existing captures" test -s /var/lib/mirrortap/captures/probe.pcap
fi
exit $((fails > 0))
INSIDE

names=()
for deb in "${debs[@]}"; do
    name=$(dpkg-deb -f "$deb" Package)
    cp "$deb" "$work/$name.deb"
    names+=("$name")
done
# The collector goes first, then the sender finds the user already there.
unshare --mount --propagation private bash "$work/inside.sh" "$work" "${names[@]}"
rc=$?
[ "$rc" -eq 77 ] && skip "could not set up the overlay sandbox"
[ "$rc" -eq 0 ] || failures=$((failures + 1))

check "the host itself was not touched (mirrortap user unchanged)" \
    test "$(getent passwd mirrortap || true)" = "$host_user_before"
finish
