#!/usr/bin/env bash
# lintian at --pedantic on each .deb: no tag at any level (error, warning,
# info, pedantic, experimental) except those the package overrides, each
# override with its reason in deploy/debian/lintian-overrides (installed for
# each package); and no override that no longer matches anything.
. "$(dirname "$0")/lib.sh"

ensure_cmd lintian lintian

work="$MIRRORTAP_DEPLOY_WORK/lintian"
rm -rf "$work" && mkdir -p "$work"
echo "lintian $(lintian --version | awk '{print $2}')"

debs=("$(collector_deb)")
[ "$HAVE_SENDER" = 1 ] && debs+=("$(sender_deb)")
for deb in "${debs[@]}"; do
    name=$(basename "$deb" | cut -d_ -f1)
    # --show-overrides lists the overridden tags as "O:", to count them.
    lintian --pedantic --display-info --display-experimental --show-overrides --tag-display-limit 0 \
        "$deb" >"$work/$name.log" 2>&1
    grep -E '^[EWIPXON]: ' "$work/$name.log" | sed 's/^/    /'
    check "$name: lintian --pedantic reports nothing that is not overridden" \
        bash -c "! grep -E '^[EWIPX]: ' '$work/$name.log'"
    check "$name: no unused override" bash -c "! grep -q 'unused-override' '$work/$name.log'"
done
check "every override says why (a comment just above it)" \
    awk '/^#/ { why = 1; next } /^[[:space:]]*$/ { why = 0; next } { if (!why) exit 1; why = 0 }' \
    "$DEPLOY_SRC/debian/lintian-overrides"
finish
