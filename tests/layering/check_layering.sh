#!/usr/bin/env bash
# The layering of the rooms, checked on the source: each room may include
# only itself and the rooms below it. The build enforces the same rule through
# per-target include directories (mirrortap_room in CMakeLists.txt); this test
# names the offending line, and also covers headers no target compiles yet.
set -euo pipefail
ROOT=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
cd "$ROOT"

declare -A allowed=(
    [support]="support"
    [decap]="decap"
    [config]="config cloud support"
    [core]="core decap support"
    [sinks]="sinks core config decap support"
    [collector]="collector upload cloud sinks core config decap support"
    [sender]="sender decap support"
    [bench]="bench decap support"
    [cloud]="cloud support"
    [upload]="upload cloud core config support"
    [find]="find cloud decap support"
    [sessions]="sessions cloud support"
)

bad=0
for room in "${!allowed[@]}"; do
    [ -d "$room" ] || continue
    while IFS=: read -r file line text; do
        target=$(sed -E 's/.*#include *"([^/"]+)\/.*/\1/' <<<"$text")
        if ! grep -qw -- "$target" <<<"${allowed[$room]}"; then
            echo "$file:$line: $room/ may not include $target/ (allowed: ${allowed[$room]})"
            bad=1
        fi
    done < <(grep -rnE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"[^/"]+/' "$room" --include='*.hpp' --include='*.cpp' --include='*.h' || true)
done
# decap/ is pure: no system headers that do I/O.
if grep -rnE '#include *<(sys/socket|unistd|fcntl|fstream|iostream|cstdio)' decap; then
    echo "decap/ must stay pure: no I/O headers"
    bad=1
fi
[ $bad -eq 0 ] && echo "layering: every include goes to the room itself or a room below"
exit $bad
