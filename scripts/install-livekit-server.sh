#!/usr/bin/env bash
# Installs livekit-server (pinned version) into .tools/bin with `go install`, once.
# Users who already run LiveKit (Cloud or self-hosted) can skip it: LIVEKITEX_SKIP_SERVER=1.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=1.13.4
BIN=.tools/bin/livekit-server
say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }

if [ -x "$BIN" ] && "$BIN" --version 2>/dev/null | grep -q "$VERSION"; then
    exit 0
fi
if [ -n "${LIVEKIT_SERVER_BIN:-}" ] && [ -x "$LIVEKIT_SERVER_BIN" ]; then
    exit 0  # the user brings their own server binary; the tests use it
fi

. scripts/find-go.sh  # sets GO

say "building livekit-server v$VERSION with go install (first time only, a few minutes)"
mkdir -p .tools/bin
# The checksum database is not reachable from every network; the module proxy still serves the
# pinned module graph, and livekit-server's own go.sum pins every dependency. livekit-server needs
# Go 1.26: GOTOOLCHAIN=auto lets an older Go (>= 1.21) fetch that toolchain from the module proxy.
if ! GOSUMDB=${GOSUMDB:-off} GOTOOLCHAIN=${GOTOOLCHAIN:-auto} GOBIN="$PWD/.tools/bin" GOFLAGS=-mod=mod \
    "$GO" install "github.com/livekit/livekit-server/cmd/server@v$VERSION"; then
    echo "could not build livekit-server v$VERSION with $("$GO" version 2>/dev/null || echo "no Go")." >&2
    echo "It needs Go >= 1.21 (which fetches Go 1.26 itself). Or point LIVEKIT_SERVER_BIN at an existing" >&2
    echo "livekit-server binary, or skip it with LIVEKITEX_SKIP_SERVER=1 if you use LiveKit Cloud." >&2
    exit 1
fi
mv -f .tools/bin/server "$BIN"
"$BIN" --version
