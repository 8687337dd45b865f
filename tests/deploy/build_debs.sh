#!/usr/bin/env bash
# Builds the .deb packages from this configured build tree with cpack, into a
# scratch directory (the same packages `cmake --build build --target package`
# makes). The other package tests read them from there.
. "$(dirname "$0")/lib.sh"

ensure_cmd dpkg-deb dpkg
ensure_cmd dpkg-shlibdeps dpkg-dev

[ -f "$MIRRORTAP_BUILD_DIR/CPackConfig.cmake" ] ||
    { echo "FAIL: no CPackConfig.cmake in $MIRRORTAP_BUILD_DIR (deploy/ not configured?)"; exit 1; }

rm -rf "$DEBS_DIR" && mkdir -p "$DEBS_DIR"
log="$DEBS_DIR/cpack.log"
if ! cpack --config "$MIRRORTAP_BUILD_DIR/CPackConfig.cmake" -G DEB -B "$DEBS_DIR/cpack" >"$log" 2>&1; then
    cat "$log"
    echo "FAIL: cpack"
    exit 1
fi
grep -E 'package: .* generated|CPack Warning|CMake Warning' "$log"
mv "$DEBS_DIR"/cpack/*.deb "$DEBS_DIR"/
ls -l "$DEBS_DIR"/*.deb

check "mirrortap-collector .deb built" test -s "$(collector_deb)"
if [ "$HAVE_SENDER" = 1 ]; then
    check "mirrortap-sender .deb built" test -s "$(sender_deb)"
else
    check "no sender .deb while there is no sender target" bash -c "! ls '$DEBS_DIR'/mirrortap-sender_*.deb >/dev/null 2>&1"
fi
finish
