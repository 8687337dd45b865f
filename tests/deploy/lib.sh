# Shared helpers for the deploy tests (sourced, not run).
# A test prints what it checked and exits 0 (pass), 1 (fail) or 77 (SKIP: a
# tool cannot run on this machine; the reason is printed, nothing is assumed).

set -uo pipefail

: "${MIRRORTAP_SOURCE_DIR:?run through ctest}"
: "${MIRRORTAP_BUILD_DIR:?run through ctest}"
: "${MIRRORTAP_DEPLOY_WORK:?run through ctest}"
HAVE_COLLECTOR=${HAVE_COLLECTOR:-0}
HAVE_SENDER=${HAVE_SENDER:-0}
DEPLOY_SRC="$MIRRORTAP_SOURCE_DIR/deploy"
DEBS_DIR="$MIRRORTAP_DEPLOY_WORK/debs"

failures=0

ok() { echo "ok: $*"; }
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
skip() { echo "SKIP: $*"; exit 77; }
# check DESCRIPTION COMMAND... : runs the command, records the result.
check() {
    local what=$1; shift
    if "$@"; then ok "$what"; else fail "$what"; fi
}
finish() {
    if [ "$failures" -ne 0 ]; then
        echo "$failures check(s) failed"
        exit 1
    fi
    echo "all checks passed"
    exit 0
}

# ensure_cmd COMMAND DEBIAN_PACKAGE: installs the package when the command is
# missing and we are root (waiting for apt's lock, as other tests may hold it);
# otherwise SKIP.
ensure_cmd() {
    local cmd=$1 pkg=$2
    command -v "$cmd" >/dev/null 2>&1 && return 0
    if [ "$(id -u)" -ne 0 ]; then
        skip "$cmd not found and not root to install $pkg"
    fi
    echo "installing $pkg for $cmd"
    (
        flock 9
        export DEBIAN_FRONTEND=noninteractive
        apt-get -o DPkg::Lock::Timeout=120 update -qq &&
            apt-get -o DPkg::Lock::Timeout=120 install -y -qq --no-install-recommends "$pkg" >/dev/null
    ) 9>/tmp/mirrortap-deploy-tests-apt.lock
    command -v "$cmd" >/dev/null 2>&1 || skip "$cmd still missing after installing $pkg"
}

deb_arch() { dpkg --print-architecture; }
# The .deb version: the build's (cmake/version.cmake) and Debian revision 1.
: "${MIRRORTAP_DEB_VERSION:?run through ctest}"
collector_deb() { echo "$DEBS_DIR/mirrortap-collector_${MIRRORTAP_DEB_VERSION}_$(deb_arch).deb"; }
sender_deb() { echo "$DEBS_DIR/mirrortap-sender_${MIRRORTAP_DEB_VERSION}_$(deb_arch).deb"; }

# run_in_sandbox WORK SCRIPT ARGS...: runs `bash SCRIPT WORK ARGS...` in
# private mount and network namespaces, where SCRIPT sources sandbox.sh (the
# overlays, /run, policy-rc.d, the sysctl file). SKIPs (exit 77) where that
# cannot be set up: root, unshare and an overlay over /etc are tried first,
# before anything is written. Afterwards checks that the host's mirrortap
# user and dpkg database are as before. Returns SCRIPT's status.
run_in_sandbox() {
    local work=$1 script=$2; shift 2
    [ "$(id -u)" -eq 0 ] || skip "needs root for a mount namespace with overlays"
    command -v unshare >/dev/null || skip "unshare (util-linux) not found"
    local user_before dpkg_before rc
    user_before=$(getent passwd mirrortap || true)
    dpkg_before=$(dpkg-query -W -f='${Package} ${Version} ${Status}\n' 'mirrortap-*' 2>/dev/null || true)
    if ! unshare --mount --net --propagation private sh -c "
            mkdir -p '$work/probe/u' '$work/probe/w' &&
            mount -t overlay overlay -o lowerdir=/etc,upperdir='$work/probe/u',workdir='$work/probe/w' /etc" \
            >"$work/probe.log" 2>&1; then
        cat "$work/probe.log"
        skip "mount/network namespaces with overlay mounts are not allowed here"
    fi
    MIRRORTAP_SANDBOX="$MIRRORTAP_SOURCE_DIR/tests/deploy/sandbox.sh" \
        unshare --mount --net --propagation private bash "$script" "$work" "$@"
    rc=$?
    [ "$rc" -eq 77 ] && skip "could not set up the overlay sandbox"
    check "the host itself was not touched (mirrortap user unchanged)" \
        test "$(getent passwd mirrortap || true)" = "$user_before"
    check "the host's dpkg database was not touched" \
        test "$(dpkg-query -W -f='${Package} ${Version} ${Status}\n' 'mirrortap-*' 2>/dev/null || true)" = "$dpkg_before"
    return "$rc"
}
