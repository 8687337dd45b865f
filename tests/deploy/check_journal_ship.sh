#!/usr/bin/env bash
# deploy/journal/mirrortap-journal-ship, run as its units run it, against a
# journal and an S3 that are scripts here (journalctl with --cursor-file, and
# `aws s3 cp` into a directory): what is shipped is the entries since the
# last shipment, an upload that fails ships them again next time, nothing
# new ships nothing, and the key is PREFIX/collector=ID/date=.../journal-*.export.gz.
. "$(dirname "$0")/lib.sh"

work="$MIRRORTAP_DEPLOY_WORK/journal-ship"
rm -rf "$work" && mkdir -p "$work/bin" "$work/state" "$work/s3"
script="$DEPLOY_SRC/journal/mirrortap-journal-ship"

# The journal: entries 1..$(cat entries); the cursor is the last number shipped.
echo 3 >"$work/entries"
cat >"$work/bin/journalctl" <<'SH'
#!/bin/sh
for a in "$@"; do case $a in --cursor-file=*) cursor=${a#--cursor-file=} ;; esac; done
from=0; [ -s "$cursor" ] && from=$(cat "$cursor")
last=$(cat "$FAKE_ENTRIES")
i=$((from + 1)); while [ "$i" -le "$last" ]; do echo "MESSAGE=entry $i"; echo; i=$((i + 1)); done
echo "$last" >"$cursor"
SH
# S3: `aws s3 cp --only-show-errors FILE s3://B/KEY` copies into $FAKE_S3/B/KEY; FAKE_S3_DOWN fails it.
cat >"$work/bin/aws" <<'SH'
#!/bin/sh
[ "$1 $2 $3" = "s3 cp --only-show-errors" ] || { echo "unexpected: $*" >&2; exit 2; }
[ -n "${FAKE_S3_DOWN:-}" ] && { echo "upload failed" >&2; exit 1; }
dest="$FAKE_S3/${5#s3://}"; mkdir -p "$(dirname "$dest")" && cp "$4" "$dest"
SH
chmod 755 "$work/bin/journalctl" "$work/bin/aws"

ship() {
    env PATH="$work/bin:$PATH" STATE_DIRECTORY="$work/state" MIRRORTAP_JOURNAL_URL=s3://bucket/captures/journal \
        FAKE_ENTRIES="$work/entries" FAKE_S3="$work/s3" "$@" sh "$script"
}
shipped() { find "$work/s3" -name '*.export.gz' | sort | while read -r f; do gzip -dc "$f"; done | grep -c '^MESSAGE='; }

check "the script is valid sh" sh -n "$script"
check "the first run ships every entry" bash -c "$(declare -f ship); work='$work' script='$script'; ship"
check "three entries in one object under collector=ID/date=DAY/" \
    bash -c "[ \$(find '$work/s3/bucket/captures/journal' -path '*/collector=*/date=*/journal-*.export.gz' | wc -l) = 1 ]"
[ "$(shipped)" = 3 ] && ok "entries 1-3 shipped" || fail "entries 1-3 shipped (got $(shipped))"

echo 5 >"$work/entries"
if ship FAKE_S3_DOWN=1 2>/dev/null; then fail "a failed upload is an error"; else ok "a failed upload is an error"; fi
[ "$(cat "$work/state/cursor")" = 3 ] && ok "the cursor stays where S3 has the entries" || fail "cursor moved past a failed upload"
check "the next run ships what failed" bash -c "$(declare -f ship); work='$work' script='$script'; ship"
[ "$(shipped)" = 5 ] && ok "entries 4-5 shipped once the store is back, none twice" || fail "entries after the failure (got $(shipped))"

before=$(find "$work/s3" -name '*.export.gz' | wc -l)
check "nothing new: the run succeeds" bash -c "$(declare -f ship); work='$work' script='$script'; ship"
[ "$(find "$work/s3" -name '*.export.gz' | wc -l)" = "$before" ] && ok "nothing new ships nothing" || fail "an empty shipment was uploaded"
finish
