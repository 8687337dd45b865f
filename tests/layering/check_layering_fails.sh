#!/usr/bin/env bash
# The layering check fails where it should: on a small tree of its own, a room
# that includes a room its row does not allow, and a room of the build with
# no row in the design's table.
set -euo pipefail
CHECK="$(cd "$(dirname "$0")" && pwd)/check_layering.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/docs" "$tmp/find" "$tmp/collector" "$tmp/support"
cat >"$tmp/docs/design.md" <<'DOC'
| room | holds | may include |
| --- | --- | --- |
| `support/` | parsers | itself |
| `collector/` | the collector | `support/` |
| `find/` | mirrortap-find | `support/` |
DOC
for room in find collector support; do echo "mirrortap_room($room $room)" >"$tmp/$room/CMakeLists.txt"; done
echo '#include "support/parse.hpp"' >"$tmp/find/search.cpp"

fail() { echo "FAILED: $*"; exit 1; }
out=$("$CHECK" "$tmp") || fail "a clean tree was refused: $out"

echo '#include "collector/worker.hpp"' >>"$tmp/find/search.cpp"
if out=$("$CHECK" "$tmp"); then fail "find/ including collector/ passed: $out"; fi
grep -q 'find/search.cpp:2: find/ may not include collector/' <<<"$out" || fail "the line is not named: $out"

sed -i '2d' "$tmp/find/search.cpp"
sed -i '/`find\/`/d' "$tmp/docs/design.md"
if out=$("$CHECK" "$tmp"); then fail "a room without a row passed: $out"; fi
grep -q "find/ is a room of the build with no row" <<<"$out" || fail "the missing row is not named: $out"
echo "layering check: refuses a forbidden include and a room the design leaves out"
