#!/usr/bin/env bash
# The layering of the rooms, checked on the source: each room may include
# only itself and the rooms docs/design.md's table (§1) lets it include. The
# table is the rule's one copy: this script reads it, so a room cannot be
# left out of the design (a room with source and no row fails) nor the check
# drift from what the design says. The build enforces the same rule through
# per-target include directories (mirrortap_room in CMakeLists.txt); this test
# names the offending line, and also covers headers no target compiles yet.
set -euo pipefail
ROOT=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
cd "$ROOT"
DESIGN=${2:-docs/design.md}

# Rows of the form "| `room/` | holds | may include |": the room, then every
# `other/` its last column names ("itself" names none).
declare -A allowed=()
while IFS= read -r row; do
    room=$(sed -E 's/^\| `([a-z]+)\/` \|.*/\1/' <<<"$row")
    rules=$(awk -F' \\| ' '{print $NF}' <<<"$row")
    allowed[$room]="$room $(grep -oE '`[a-z]+/`' <<<"$rules" | tr -d '`/' | tr '\n' ' ' || true)"
done < <(grep -E '^\| `[a-z]+/` \|' "$DESIGN")
[ ${#allowed[@]} -gt 0 ] || { echo "$DESIGN has no layering table"; exit 1; }

bad=0
# Every room with source has a row: the rooms are the top-level folders the build makes rooms of.
for room in $(sed -nE 's/.*mirrortap_room\([^ ]+ ([a-z]+)\).*/\1/p' ./*/CMakeLists.txt | sort -u); do
    case $room in tests|fuzz) continue ;; esac  # they may reach every room they test
    if [ -z "${allowed[$room]:-}" ]; then
        echo "$room/ is a room of the build with no row in $DESIGN's layering table"
        bad=1
    fi
done
for room in "${!allowed[@]}"; do
    [ -d "$room" ] || { echo "$DESIGN names $room/, which does not exist"; bad=1; continue; }
    while IFS=: read -r file line text; do
        target=$(sed -E 's/.*#include *"([^/"]+)\/.*/\1/' <<<"$text")
        if ! grep -qw -- "$target" <<<"${allowed[$room]}"; then
            echo "$file:$line: $room/ may not include $target/ (allowed: ${allowed[$room]})"
            bad=1
        fi
    done < <(grep -rnE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"[^/"]+/' "$room" --include='*.hpp' --include='*.cpp' --include='*.h' || true)
done
# decap/ is pure: no system headers that do I/O.
if [ -d decap ] && grep -rnE '#include *<(sys/socket|unistd|fcntl|fstream|iostream|cstdio)' decap; then
    echo "decap/ must stay pure: no I/O headers"
    bad=1
fi
[ $bad -eq 0 ] && echo "layering: every include goes to the room itself or a room $DESIGN allows"
exit $bad
