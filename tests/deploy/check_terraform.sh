#!/usr/bin/env bash
# Offline checks of deploy/terraform with the npm package @cdktf/hcl2json (an
# HCL parser; no terraform binary, no provider, no network): every .tf parses,
# variables and locals are declared exactly when used, module calls match the
# module's variables and outputs, and the resources and arguments the
# deployment depends on are present. Installs the parser on first use, from
# the npm registry, into a cache outside the repository.
. "$(dirname "$0")/lib.sh"

HCL2JSON_VERSION=0.21.0
ensure_cmd node nodejs
ensure_cmd npm npm

cache=${MIRRORTAP_NPM_CACHE:-/var/cache/mirrortap-npm}
if ! mkdir -p "$cache" 2>/dev/null || [ ! -w "$cache" ]; then
    cache="$MIRRORTAP_DEPLOY_WORK/npm"
    mkdir -p "$cache"
fi
pkg="$cache/node_modules/@cdktf/hcl2json"
if [ "$(node -p "try { require('$pkg/package.json').version } catch (e) { '' }")" != "$HCL2JSON_VERSION" ]; then
    echo "installing @cdktf/hcl2json@$HCL2JSON_VERSION into $cache"
    (
        flock 9
        npm install --prefix "$cache" --no-audit --no-fund --no-save --loglevel=error \
            "@cdktf/hcl2json@$HCL2JSON_VERSION"
    ) 9>"$cache/.install.lock" || { echo "FAIL: npm install @cdktf/hcl2json"; exit 1; }
fi

node "$(dirname "$0")/check_terraform.js" "$pkg" "$DEPLOY_SRC/terraform"
