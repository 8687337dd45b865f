#!/usr/bin/env bash
# cmake/version.cmake on a scratch git repository: every commit's version is
# a valid Debian version that sorts after the one before; a tag v<base> takes
# over the base, and tagging the base already in use never lowers it; a
# checkout without git history gets the project() version.
. "$(dirname "$0")/lib.sh"

ensure_cmd git git
work="$MIRRORTAP_DEPLOY_WORK/version"
rm -rf "$work" && mkdir -p "$work/repo"
repo="$work/repo"

# In script mode CMAKE_SOURCE_DIR is the working directory; git must not look
# above $work (the build tree may sit in a checkout).
version_at() {
    (cd "$1" && GIT_CEILING_DIRECTORIES="$work" \
        cmake -DPROJECT_VERSION=0.1.0 -P "$MIRRORTAP_SOURCE_DIR/cmake/version.cmake" 2>&1) |
        sed -n 's/^-- mirrortap version //p'
}
commit() {
    echo "$1" >>"$repo/file"
    git -C "$repo" add file && git -C "$repo" -c user.name=t -c user.email=t@example.org commit -qm "$1"
}
# sorts_after NEW OLD: NEW-1 is a valid Debian version above OLD-1.
sorts_after() {
    dpkg --compare-versions "$1-1" gt "$2-1" 2>/dev/null || { echo "    $1 does not sort after $2"; return 1; }
}

check "outside git: the project() version" test "$(version_at "$work/repo")" = 0.1.0
git -C "$repo" init -q
commit one
v1=$(version_at "$repo"); echo "    one commit: $v1"
check "first commit: 0.1.0+git1.<sha>" grep -qE '^0\.1\.0\+git1\.[0-9a-f]{7}$' <<<"$v1"
commit two
v2=$(version_at "$repo"); echo "    two commits: $v2"
check "a commit raises the version" sorts_after "$v2" "$v1"
git -C "$repo" tag v0.1.0
commit three
v3=$(version_at "$repo"); echo "    tagged v0.1.0, one commit more: $v3"
check "tagging the base in use does not lower the next version" sorts_after "$v3" "$v2"
git -C "$repo" tag v0.2.0
v4=$(version_at "$repo"); echo "    tagged v0.2.0: $v4"
check "a new tag sets the base (0.2.0+git3.<sha>)" grep -qE '^0\.2\.0\+git3\.[0-9a-f]{7}$' <<<"$v4"
check "and sorts after the untagged build of the same commit" sorts_after "$v4" "$v3"
check "this build's version is valid for dpkg ($MIRRORTAP_DEB_VERSION)" \
    dpkg --compare-versions "$MIRRORTAP_DEB_VERSION" gt 0
finish
