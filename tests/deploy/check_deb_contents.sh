#!/usr/bin/env bash
# What the .deb files hold: `dpkg-deb -c` lists exactly the expected files
# (binaries, /etc/mirrortap/*.yaml, units, the capture directory, docs) and
# nothing else; control fields, conffiles and maintainer scripts are right;
# the packaged binary runs and accepts the packaged config.
. "$(dirname "$0")/lib.sh"

work="$MIRRORTAP_DEPLOY_WORK/contents"
rm -rf "$work" && mkdir -p "$work"

# check_package DEB NAME EXPECTED_PATHS_FILE EXPECTED_CONFFILES...
check_package() {
    local deb=$1 name=$2 expected=$3; shift 3
    local conffiles=("$@")
    local dir="$work/$name"
    mkdir -p "$dir"
    echo "--- $name: $(basename "$deb")"
    if [ ! -s "$deb" ]; then fail "$name: $deb exists"; return; fi

    # Files: every expected path is there, and nothing that is neither expected
    # nor a parent directory of something expected (a room's headers, static
    # libraries or build paths would show up here).
    dpkg-deb -c "$deb" | awk '{print $1, $6}' | sed 's| \./| /|; s|/$||' >"$dir/listing"
    awk '{print $2}' "$dir/listing" | grep -v '^/$' | sort >"$dir/actual"
    sort "$expected" >"$dir/expected"
    local missing extra
    missing=$(comm -23 "$dir/expected" "$dir/actual")
    if [ -z "$missing" ]; then ok "$name: every expected file is in the package"; else
        fail "$name: missing from the package:"; echo "$missing" | sed 's/^/    /'; fi
    extra=$(comm -13 "$dir/expected" "$dir/actual" | while read -r p; do
        grep -q "^$p/" "$dir/expected" || echo "$p"; done)
    if [ -z "$extra" ]; then ok "$name: nothing unexpected in the package"; else
        fail "$name: unexpected files in the package:"; echo "$extra" | sed 's/^/    /'; fi

    # Binaries (and the journal shipper the units run) executable, everything else not.
    while read -r mode path; do
        case "$path" in
            /usr/bin/* | /usr/share/mirrortap/mirrortap-journal-ship)
                [[ $mode == -rwxr-xr-x ]] || fail "$name: $path is $mode, not -rwxr-xr-x" ;;
            */) ;;
            *) [[ $mode == d* || $mode == -rw-r--r-- ]] || fail "$name: $path is $mode, not -rw-r--r--" ;;
        esac
    done <"$dir/listing"

    # Control fields.
    local field
    check "$name: Package field" test "$(dpkg-deb -f "$deb" Package)" = "$name"
    check "$name: Version is the build's with Debian revision 1 ($MIRRORTAP_DEB_VERSION)" \
        test "$(dpkg-deb -f "$deb" Version)" = "$MIRRORTAP_DEB_VERSION"
    check "$name: Maintainer is a name and an address" \
        grep -qE '^[^<>]+ <[^@<> ]+@[^@<> ]+\.[^@<> ]+>$' <<<"$(dpkg-deb -f "$deb" Maintainer)"
    check "$name: Architecture is this machine's" test "$(dpkg-deb -f "$deb" Architecture)" = "$(deb_arch)"
    check "$name: Section net" test "$(dpkg-deb -f "$deb" Section)" = net
    field=$(dpkg-deb -f "$deb" Depends)
    echo "    Depends: $field"
    check "$name: Depends on adduser (postinst creates the user)" grep -qw adduser <<<"$field"
    if [ -n "${binary:-}" ]; then
        check "$name: Depends lists the shared libraries (dpkg-shlibdeps ran)" grep -q 'libc6' <<<"$field"
    fi
    # Every package named in Suggests/Recommends is one this machine's apt
    # sources (Debian 12) carry: no alternatives to pick, so names only.
    local relation pkg
    for relation in Suggests Recommends; do
        for pkg in $(dpkg-deb -f "$deb" "$relation" | tr ',' '\n' | sed 's/(.*//; s/ //g'); do
            check "$name: $relation: $pkg is in the apt sources" \
                sh -c "apt-cache policy '$pkg' 2>/dev/null | grep -q 'Candidate: [^(]'"
        done
    done
    field=$(dpkg-deb -f "$deb" Description)
    check "$name: Description has a synopsis and an extended part" \
        test "$(printf '%s\n' "$field" | wc -l)" -ge 2

    # Control archive: conffiles exactly as expected; maintainer scripts
    # executable, filled in, and valid sh.
    dpkg-deb --control "$deb" "$dir/control"
    printf '%s\n' "${conffiles[@]}" | grep -v '^$' | sort >"$dir/conffiles.expected"
    if [ -f "$dir/control/conffiles" ]; then sort "$dir/control/conffiles" >"$dir/conffiles.actual"
    else : >"$dir/conffiles.actual"; fi
    check "$name: conffiles = {${conffiles[*]}}" cmp -s "$dir/conffiles.expected" "$dir/conffiles.actual"
    local s
    for s in postinst prerm postrm; do
        check "$name: $s is executable" test -x "$dir/control/$s"
        check "$name: $s parses as sh" sh -n "$dir/control/$s"
        check "$name: $s has no unfilled @VARIABLE@" bash -c "! grep -n '@[A-Z_]*@' '$dir/control/$s'"
    done
    check "$name: postinst creates the mirrortap user" grep -q 'adduser .*--system' "$dir/control/postinst"

    dpkg-deb -x "$deb" "$dir/root"

    # The manual page of each program: groff renders it without a warning,
    # and it documents every flag --help lists (both come from one table).
    local bin page flag missing_flags
    for bin in "$dir"/root/usr/bin/*; do
        [ -x "$bin" ] || continue
        page=$(ls "$dir"/root/usr/share/man/man[18]/"$(basename "$bin")".[18].gz 2>/dev/null | head -1)
        if [ -z "$page" ]; then fail "$name: $(basename "$bin") has a manual page"; continue; fi
        check "$name: $(basename "$page") renders without a groff warning" \
            bash -c "LC_ALL=C.UTF-8 MANWIDTH=200 man --warnings -E UTF-8 -l '$page' 2>&1 >'$dir/man.txt' | (! grep .)"
        missing_flags=""
        # The option lines of --help: "  --flag VALUE  help" or "  -i, --flag ...".
        for flag in $("$bin" --help | grep -oE -- '^  (-[A-Za-z], )?--[a-z][a-z0-9-]+' | grep -oE -- '--[a-z0-9-]+$' | sort -u); do
            grep -qF -- "$flag" "$dir/man.txt" || missing_flags+=" $flag"
        done
        check "$name: $(basename "$page") documents every flag of --help${missing_flags:+ (missing:$missing_flags)}" \
            test -z "$missing_flags"
    done
}

# Shipped files must be the tree's files, byte for byte.
same_as() { cmp -s "$1" "$2" || { echo "    $1 differs from $2"; return 1; }; }

# --- collector -------------------------------------------------------------
exp="$work/collector.expected"
cat >"$exp" <<LIST
/usr/lib/systemd/system/mirrortap-collector.service
/usr/share/mirrortap/systemd/collector-tap.conf
/usr/share/mirrortap/systemd/mirrortap-journal-ship.service
/usr/share/mirrortap/systemd/mirrortap-journal-ship.timer
/usr/share/mirrortap/systemd/mirrortap-journal-ship-final.service
/usr/share/mirrortap/mirrortap-journal-ship
/usr/lib/sysctl.d/60-mirrortap-collector.conf
/usr/share/doc/mirrortap-collector/README.md
/usr/share/doc/mirrortap-collector/scale-out.md
/usr/share/doc/mirrortap-collector/security.md
/usr/share/doc/mirrortap-collector/copyright
/usr/share/doc/mirrortap-collector/changelog.Debian.gz
/usr/share/lintian/overrides/mirrortap-collector
/var/lib/mirrortap/captures
LIST
collector_conffiles=()
binary=""
if [ "$HAVE_COLLECTOR" = 1 ]; then
    printf '%s\n' /usr/bin/mirrortap-collector /usr/share/man/man8/mirrortap-collector.8.gz >>"$exp"
    binary=1
fi
# mirrortap-find goes next to the collector, in its package.
if [ "${HAVE_FIND:-0}" = 1 ]; then
    printf '%s\n' /usr/bin/mirrortap-find /usr/share/man/man1/mirrortap-find.1.gz \
        /usr/share/mirrortap/systemd/mirrortap-find-serve.service /usr/share/doc/mirrortap-collector/find.md >>"$exp"
fi
# mirrortap-sessions too, with its unit aside (the Terraform user data installs it).
if [ "${HAVE_SESSIONS:-0}" = 1 ]; then
    printf '%s\n' /usr/bin/mirrortap-sessions /usr/share/man/man8/mirrortap-sessions.8.gz \
        /usr/share/mirrortap/systemd/mirrortap-sessions.service \
        /usr/share/doc/mirrortap-collector/sessions.example.yaml /usr/share/doc/mirrortap-collector/sessions.md >>"$exp"
fi
if [ -f "$MIRRORTAP_SOURCE_DIR/config/example.yaml" ]; then
    echo /etc/mirrortap/collector.yaml >>"$exp"
    collector_conffiles+=(/etc/mirrortap/collector.yaml)
fi
check_package "$(collector_deb)" mirrortap-collector "$exp" "${collector_conffiles[@]}"
root="$work/mirrortap-collector/root"
check "collector unit is deploy/systemd's" \
    same_as "$root/usr/lib/systemd/system/mirrortap-collector.service" "$DEPLOY_SRC/systemd/mirrortap-collector.service"
check "collector postinst hands captures/ to mirrortap" \
    grep -q 'install -d -o mirrortap -g mirrortap -m 0750 /var/lib/mirrortap/captures' "$work/mirrortap-collector/control/postinst"
if [ -f "$MIRRORTAP_SOURCE_DIR/config/example.yaml" ]; then
    check "/etc/mirrortap/collector.yaml is config/example.yaml" \
        same_as "$root/etc/mirrortap/collector.yaml" "$MIRRORTAP_SOURCE_DIR/config/example.yaml"
fi
if [ "$HAVE_COLLECTOR" = 1 ]; then
    bin="$root/usr/bin/mirrortap-collector"
    check "packaged collector is stripped (no .symtab)" bash -c "! readelf -S '$bin' | grep -q '\.symtab'"
    check "packaged collector runs: --version names $MIRRORTAP_VERSION" \
        bash -c "'$bin' --version | grep -qF '$MIRRORTAP_VERSION'"
    if [ -f "$root/etc/mirrortap/collector.yaml" ]; then
        check "packaged collector accepts the packaged config (--check-config)" \
            "$bin" --config "$root/etc/mirrortap/collector.yaml" --check-config
    fi
fi

if [ "${HAVE_FIND:-0}" = 1 ]; then
    check "packaged mirrortap-find runs: --version names $MIRRORTAP_VERSION" \
        bash -c "'$root/usr/bin/mirrortap-find' --version | grep -qF '$MIRRORTAP_VERSION'"
fi

if [ "${HAVE_SESSIONS:-0}" = 1 ]; then
    check "packaged mirrortap-sessions runs: --version names $MIRRORTAP_VERSION" \
        bash -c "'$root/usr/bin/mirrortap-sessions' --version | grep -qF '$MIRRORTAP_VERSION'"
    check "sessions unit is deploy/systemd's" \
        same_as "$root/usr/share/mirrortap/systemd/mirrortap-sessions.service" "$DEPLOY_SRC/systemd/mirrortap-sessions.service"
    # The example names placeholder ids: --check-config sends nothing, so it must pass.
    check "packaged mirrortap-sessions accepts the packaged example (--check-config)" \
        "$root/usr/bin/mirrortap-sessions" --config "$root/usr/share/doc/mirrortap-collector/sessions.example.yaml" --check-config
fi

# --- sender ----------------------------------------------------------------
if [ "$HAVE_SENDER" = 1 ]; then
    exp="$work/sender.expected"
    cat >"$exp" <<LIST
/usr/bin/mirrortap-sender
/usr/lib/systemd/system/mirrortap-sender.service
/usr/share/doc/mirrortap-sender/README.md
/usr/share/doc/mirrortap-sender/copyright
/usr/share/doc/mirrortap-sender/changelog.Debian.gz
/usr/share/lintian/overrides/mirrortap-sender
/usr/share/man/man8/mirrortap-sender.8.gz
LIST
    sender_conffiles=()
    binary=1
    if [ -f "$MIRRORTAP_SOURCE_DIR/sender/example.yaml" ]; then
        echo /etc/mirrortap/sender.yaml >>"$exp"
        sender_conffiles+=(/etc/mirrortap/sender.yaml)
    fi
    check_package "$(sender_deb)" mirrortap-sender "$exp" "${sender_conffiles[@]}"
    root="$work/mirrortap-sender/root"
    check "sender unit is deploy/systemd's" \
        same_as "$root/usr/lib/systemd/system/mirrortap-sender.service" "$DEPLOY_SRC/systemd/mirrortap-sender.service"
    check "sender package does not ship the capture directory" test ! -e "$root/var/lib/mirrortap"
    check "packaged sender runs (--version)" "$root/usr/bin/mirrortap-sender" --version
else
    echo "note: no mirrortap-sender target yet; no sender package to check"
fi

finish
