#!/usr/bin/env bash
# Installs toxiproxy-server (pinned version) into .tools/bin with `go install`, once.
# The realtime fault matrix (tests/session/faults, bench/realtime_faults.py) puts it between the
# RealtimeModel and the local test server to cut, stall, slow and truncate the connection.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=2.12.0
BIN=.tools/bin/toxiproxy-server
say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }

if [ -x "$BIN" ] && "$BIN" -version 2>/dev/null | grep -q "$VERSION"; then
    exit 0
fi
if [ -n "${TOXIPROXY_SERVER_BIN:-}" ] && [ -x "$TOXIPROXY_SERVER_BIN" ]; then
    exit 0  # the user brings their own binary; the tests use it
fi

. scripts/find-go.sh  # sets GO

say "building toxiproxy-server v$VERSION with go install (first time only)"
mkdir -p .tools/bin
GOBIN_TMP=$(mktemp -d)  # `go install` names the binary "server"; build it aside, then rename
trap 'rm -rf "$GOBIN_TMP"' EXIT
# As for livekit-server: the checksum database is not reachable from every network, the module
# proxy serves the pinned module graph and toxiproxy's go.sum pins every dependency; GOTOOLCHAIN=auto
# lets an older Go fetch the toolchain the module asks for. -ldflags stamps the version, which the
# check above reads to skip a second build.
if ! GOSUMDB=${GOSUMDB:-off} GOTOOLCHAIN=${GOTOOLCHAIN:-auto} GOBIN="$GOBIN_TMP" GOFLAGS=-mod=mod \
    "$GO" install -ldflags "-X github.com/Shopify/toxiproxy/v2.Version=$VERSION" \
    "github.com/Shopify/toxiproxy/v2/cmd/server@v$VERSION"; then
    echo "could not build toxiproxy-server v$VERSION with $("$GO" version 2>/dev/null || echo "no Go")." >&2
    echo "Point TOXIPROXY_SERVER_BIN at an existing toxiproxy-server binary instead." >&2
    exit 1
fi
mv -f "$GOBIN_TMP/server" "$BIN"
"$BIN" -version
