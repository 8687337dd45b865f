# The package sandbox, sourced by a script that already runs in private mount
# and network namespaces (`unshare --mount --net --propagation private`), with
# $work set to its scratch directory. Exits 77 when any part cannot be set up,
# before a package is touched.
#
# - /etc, /usr and /var are overlays whose writes land in $work/ov: dpkg, its
#   database, the users it adds and the files it installs stay in there.
# - /run is an empty tmpfs holding /run/systemd/system, so the maintainer
#   scripts take the systemd branch; no systemd answers (nothing reaches the
#   host's), and /usr/sbin/policy-rc.d records every service action that
#   deb-systemd-invoke is asked for in $work/service-actions ("UNIT ACTION")
#   and refuses it (101), as Debian's chroot builders do.
# - /proc/sys/net/core/rmem_max is a bind mount of $work/rmem_max: the sysctl
#   postinst applies lands in that file, never in the host's kernel (the
#   setting is not per network namespace).
# - loopback is up.
# Then: ok/bad/t to record checks (fails counts the bad ones) and dpkg_ to run
# dpkg, its output in $work/dpkg.step (this call) and $work/dpkg.log (all).

set -u
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
[ ! -e /run/systemd/private ] || exit 77
mkdir -p /run/systemd/system

RMEM_MAX_BEFORE=212992
echo "$RMEM_MAX_BEFORE" >"$work/rmem_max"
mount --bind "$work/rmem_max" /proc/sys/net/core/rmem_max || exit 77
[ "$(cat /proc/sys/net/core/rmem_max)" = "$RMEM_MAX_BEFORE" ] || exit 77

: >"$work/service-actions"
printf '#!/bin/sh\necho "$*" >>"%s"\nexit 101\n' "$work/service-actions" >/usr/sbin/policy-rc.d
chmod 0755 /usr/sbin/policy-rc.d

ip link set lo up || exit 77

export DEBIAN_FRONTEND=noninteractive
# --force-depends: this checks the package's own scripts, not whether this
# machine has every library the binaries link (it built them, so it has).
dpkg_() {
    dpkg --force-depends --force-confold "$@" >"$work/dpkg.step" 2>&1
    local rc=$?
    cat "$work/dpkg.step" >>"$work/dpkg.log"
    return $rc
}

# The service actions asked for since the last call, one "UNIT ACTION" a line.
new_service_actions() {
    cat "$work/service-actions"
    : >"$work/service-actions"
}

# Makes /run/<RuntimeDirectory> as systemd does before a start of UNIT_FILE:
# owned by its User= and Group=, with its RuntimeDirectoryMode=. Prints the path.
make_runtime_directory() {
    local unit_file=$1 user group dir mode
    user=$(sed -n 's/^User=//p' "$unit_file")
    group=$(sed -n 's/^Group=//p' "$unit_file")
    dir=$(sed -n 's/^RuntimeDirectory=//p' "$unit_file")
    mode=$(sed -n 's/^RuntimeDirectoryMode=//p' "$unit_file")
    [ -n "$dir" ] || return 1
    install -d -o "$user" -g "${group:-$user}" -m "${mode:-0755}" "/run/$dir" && echo "/run/$dir"
}
