#!/usr/bin/env bash
# One-time set-up for a fresh machine: system packages, the Python environment and livekit-server.
# Safe to run again: every step is skipped when it is already done.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }

SUDO=""
if [ "$(id -u)" != "0" ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi

# --- system packages -----------------------------------------------------------------------------
need_apt=()
command -v espeak-ng >/dev/null 2>&1 || need_apt+=(espeak-ng)
command -v sox >/dev/null 2>&1 || need_apt+=(sox)
# the microphone/speaker console and its tests: PortAudio, and a private PulseAudio server with
# virtual devices that PortAudio reaches through ALSA's pulse plugin
for pkg in pulseaudio pulseaudio-utils libportaudio2 libasound2-plugins; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need_apt+=("$pkg")
done
if [ ${#need_apt[@]} -gt 0 ]; then
    say "installing system packages: ${need_apt[*]}"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

# --- python environment --------------------------------------------------------------------------
PY=${PYTHON:-python3}
stamp=.venv/.installed-$(sha1sum pyproject.toml | cut -c1-12)
if [ ! -f "$stamp" ]; then
    if [ ! -x .venv/bin/python ]; then
        say "creating .venv with $($PY --version)"
        $PY -m venv .venv
    fi
    say "installing livekitex-agent and its dependencies into .venv"
    .venv/bin/python -m pip install -q --upgrade pip
    .venv/bin/python -m pip install -q -e ".[local,demo,dev,mcp,otel]"
    rm -f .venv/.installed-*
    touch "$stamp"
fi

# --- livekit-server ------------------------------------------------------------------------------
if [ "${LIVEKITEX_SKIP_SERVER:-0}" != "1" ]; then
    scripts/install-livekit-server.sh
fi
scripts/install-toxiproxy.sh  # the fault proxy of the realtime fault matrix
scripts/install-playground.sh  # the playground's livekit-client bundle, and chromium for its tests
scripts/install-docs-tools.sh  # chromium and mermaid-cli for the docs checks (tests/docs/test_mermaid.py)
scripts/install-smart-turn.sh  # the end-of-turn model (SmartTurnDetector) into .tools/models
scripts/install-livekit-agents.sh  # the peer of bench/capacity_sbs.py
scripts/install-speech-samples.sh  # recorded speech for bench/turn_taking.py (tests/bench/test_turn_corpus.py)
say "ready"
