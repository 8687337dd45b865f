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
collector_deb() { echo "$DEBS_DIR/mirrortap-collector_${MIRRORTAP_VERSION}_$(deb_arch).deb"; }
sender_deb() { echo "$DEBS_DIR/mirrortap-sender_${MIRRORTAP_VERSION}_$(deb_arch).deb"; }
