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

    # Binaries executable, everything else not.
    while read -r mode path; do
        case "$path" in
            /usr/bin/*) [[ $mode == -rwxr-xr-x ]] || fail "$name: $path is $mode, not -rwxr-xr-x" ;;
            */) ;;
            *) [[ $mode == d* || $mode == -rw-r--r-- ]] || fail "$name: $path is $mode, not -rw-r--r--" ;;
        esac
    done <"$dir/listing"

    # Control fields.
    local field
    check "$name: Package field" test "$(dpkg-deb -f "$deb" Package)" = "$name"
    check "$name: Version is the project's" test "$(dpkg-deb -f "$deb" Version)" = "$MIRRORTAP_VERSION"
    check "$name: Architecture is this machine's" test "$(dpkg-deb -f "$deb" Architecture)" = "$(deb_arch)"
    check "$name: Section net" test "$(dpkg-deb -f "$deb" Section)" = net
    field=$(dpkg-deb -f "$deb" Depends)
    echo "    Depends: $field"
    check "$name: Depends on adduser (postinst creates the user)" grep -qw adduser <<<"$field"
    if [ -n "${binary:-}" ]; then
        check "$name: Depends lists the shared libraries (dpkg-shlibdeps ran)" grep -q 'libc6' <<<"$field"
    fi
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
}

# Shipped files must be the tree's files, byte for byte.
same_as() { cmp -s "$1" "$2" || { echo "    $1 differs from $2"; return 1; }; }

# --- collector -------------------------------------------------------------
exp="$work/collector.expected"
cat >"$exp" <<LIST
/usr/lib/systemd/system/mirrortap-collector.service
/usr/share/mirrortap/systemd/collector-tap.conf
/usr/lib/sysctl.d/60-mirrortap-collector.conf
/usr/share/doc/mirrortap-collector/README.md
/usr/share/doc/mirrortap-collector/scale-out.md
/var/lib/mirrortap/captures
LIST
collector_conffiles=()
binary=""
if [ "$HAVE_COLLECTOR" = 1 ]; then echo /usr/bin/mirrortap-collector >>"$exp"; binary=1; fi
# mirrortap-find goes next to the collector, in its package.
if [ "${HAVE_FIND:-0}" = 1 ]; then echo /usr/bin/mirrortap-find >>"$exp"; fi
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

# --- sender ----------------------------------------------------------------
if [ "$HAVE_SENDER" = 1 ]; then
    exp="$work/sender.expected"
    cat >"$exp" <<LIST
/usr/bin/mirrortap-sender
/usr/lib/systemd/system/mirrortap-sender.service
/usr/share/doc/mirrortap-sender/README.md
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
