#!/usr/bin/env bash
# The browser playground's parts that are not Python: the livekit-client JS bundle it serves
# (npm, pinned in scripts/playground/package-lock.json, bundled with esbuild into the package's
# static folder; not committed) and Debian's chromium for its browser tests. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }
SUDO=""
if [ "$(id -u)" != "0" ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi
apt_install() {
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq "$@" >/dev/null
}

# --- chromium (the browser tests drive it with Playwright; no browser download) ------------------
# LIVEKITEX_SKIP_CHROMIUM=1 skips it (a machine that brings its own browser, or runs no browser tests)
if [ "${LIVEKITEX_SKIP_CHROMIUM:-0}" != "1" ] && ! command -v chromium >/dev/null 2>&1; then
    say "installing chromium (Debian) for the playground's browser tests"
    apt_install chromium
fi

# --- the livekit-client bundle -------------------------------------------------------------------
JS=scripts/playground
OUT=src/livekitex_agent/playground/static/vendor/livekit-client.esm.js
lock_id=$(sha1sum "$JS/package-lock.json" "$JS/entry.js" | sha1sum | cut -c1-12)
if [ -f "$OUT" ] && head -c 200 "$OUT" | grep -q "build $lock_id"; then
    exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
    say "installing Node.js and npm (Debian) to bundle livekit-client"
    apt_install nodejs npm
fi
say "bundling livekit-client for the playground (npm ci + esbuild)"
(cd "$JS" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
version=$(node -p "require('./$JS/node_modules/livekit-client/package.json').version")
mkdir -p "$(dirname "$OUT")"
"$JS/node_modules/.bin/esbuild" "$JS/entry.js" --bundle --format=esm --minify --target=es2020 \
    --legal-comments=eof --log-level=warning \
    --banner:js="/* livekit-client $version (Apache-2.0), bundled by scripts/install-playground.sh, build $lock_id */" \
    --outfile="$OUT.tmp"
mv -f "$OUT.tmp" "$OUT"
say "playground bundle: $OUT (livekit-client $version)"
