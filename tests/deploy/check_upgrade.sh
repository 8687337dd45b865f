#!/usr/bin/env bash
# An upgrade as an operator does it, in the package sandbox
# (tests/deploy/sandbox.sh): the previous version installed with dpkg, the
# admin's edit of the config and a capture on disk, then `apt-get install
# ./new.deb`. Checks: apt takes it as an upgrade; the version changes; the
# edited conffile is kept (no prompt, no .dpkg-* left); the capture is kept
# byte for byte with its owner; the mirrortap uid is kept; the service is
# asked to try-restart (restarted if it was running, left stopped if not);
# the new binary runs; purge then removes the config, keeps the capture.
#
# The previous version's package is this build's package with a lower
# version written into its control file (VERSION~previous-1, which dpkg sorts
# before VERSION-1): the same files and maintainer scripts, so what is tested
# is dpkg's and apt's upgrade path through our scripts and conffiles.
. "$(dirname "$0")/lib.sh"

ensure_cmd apt-get apt
work="$MIRRORTAP_DEPLOY_WORK/upgrade"
rm -rf "$work" && mkdir -p "$work"

old_version="${MIRRORTAP_DEB_VERSION%-1}~previous-1"
check "$old_version sorts before $MIRRORTAP_DEB_VERSION" \
    dpkg --compare-versions "$old_version" lt "$MIRRORTAP_DEB_VERSION"

# previous_package DEB OUT: DEB with Version: $old_version.
previous_package() {
    local tree="$work/repack"
    rm -rf "$tree"
    dpkg-deb -R "$1" "$tree" &&
        sed -i "s/^Version: .*/Version: $old_version/" "$tree/DEBIAN/control" &&
        dpkg-deb -b "$tree" "$2" >/dev/null
}

names=()
for name in mirrortap-collector mirrortap-sender; do
    deb=$(collector_deb)
    if [ "$name" = mirrortap-sender ]; then
        [ "$HAVE_SENDER" = 1 ] || continue
        deb=$(sender_deb)
    fi
    cp "$deb" "$work/$name-new.deb" || { fail "$name: $deb exists"; continue; }
    check "$name: previous version's package built" previous_package "$deb" "$work/$name-old.deb"
    names+=("$name")
done

cat >"$work/inside.sh" <<'INSIDE'
# Runs inside the namespaces. $1 = scratch dir, $2 = the old version, $3 = the
# new one, then package names.
work=$1 old_version=$2 new_version=$3; shift 3
. "$MIRRORTAP_SANDBOX"

version_of() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null; }

for name in "$@"; do
    unit="$name.service"
    echo "--- $name: $old_version -> $new_version"
    t "$name: dpkg -i the previous version" dpkg_ -i "$work/$name-old.deb"
    t "$name: $old_version installed" test "$(version_of "$name")" = "$old_version"
    new_service_actions >/dev/null

    conf=/etc/mirrortap/${name#mirrortap-}.yaml
    [ -f "$conf" ] || conf=""
    [ -n "$conf" ] && echo "# edited by the admin before the upgrade" >>"$conf"
    capture=""
    if [ "$name" = mirrortap-collector ]; then
        capture=/var/lib/mirrortap/captures/web/web-20261201T000000Z-000001.pcap
        install -d -o mirrortap -g mirrortap -m 0750 "$(dirname "$capture")"
        head -c 4096 /dev/urandom >"$capture" && chown mirrortap:mirrortap "$capture" && chmod 0640 "$capture"
        sum_before=$(sha256sum <"$capture")
    fi
    uid=$(id -u mirrortap)

    # apt, as the operator types it; no network: everything it needs is here.
    apt-get install -y --no-install-recommends -o Dpkg::Options::=--force-confold \
        "$work/$name-new.deb" >"$work/apt.step" 2>&1
    rc=$?
    cat "$work/apt.step" >>"$work/dpkg.log"
    t "$name: apt-get install ./new.deb succeeds" test "$rc" -eq 0
    t "$name: apt takes it as an upgrade" grep -q "^1 upgraded" "$work/apt.step"
    t "$name: version changed to $new_version" test "$(version_of "$name")" = "$new_version"
    t "$name: the service is asked to try-restart (only a running one restarts)" \
        test "$(new_service_actions)" = "$unit try-restart"
    if [ -n "$conf" ]; then
        t "$name: the admin's edit of $conf is kept" grep -q 'edited by the admin before the upgrade' "$conf"
        t "$name: no .dpkg-new/.dpkg-dist/.dpkg-old beside it" \
            sh -c "! ls /etc/mirrortap/*.dpkg-* >/dev/null 2>&1"
    fi
    if [ -n "$capture" ]; then
        t "the capture is kept byte for byte" test "$(sha256sum <"$capture" 2>&1)" = "$sum_before"
        t "the capture stays mirrortap's, 640" test "$(stat -c '%U:%G %a' "$capture")" = "mirrortap:mirrortap 640"
    fi
    t "$name: the mirrortap uid is kept" test "$(id -u mirrortap)" = "$uid"
    t "$name: the new binary runs and says $new_version" \
        sh -c "/usr/bin/$name --version | grep -qF '${new_version%-*}'"

    t "$name: dpkg -P" dpkg_ -P "$name"
    t "$name: purge removes the config" sh -c "[ -z '$conf' ] || [ ! -e '$conf' ]"
    if [ -n "$capture" ]; then
        t "purge keeps the capture" test "$(sha256sum <"$capture" 2>&1)" = "$sum_before"
    fi
done
exit $((fails > 0))
INSIDE

if ! run_in_sandbox "$work" "$work/inside.sh" "$old_version" "$MIRRORTAP_DEB_VERSION" "${names[@]}"; then
    failures=$((failures + 1))
    echo "--- dpkg.log (tail)"; tail -30 "$work/dpkg.log"
fi
finish
