#!/usr/bin/env bash
# Installs recorded human speech for the turn-taking benchmark and its test, once: Debian's
# asterisk-core-sounds-en-wav (the Asterisk voice prompts recorded by Allison Smith, CC-BY-SA-3.0,
# 8 kHz WAV, ~24 MB) into /usr/share/asterisk/sounds. bench/turn_corpus_recorded.py builds its clips
# from them at run time; no audio is kept in the repository.
set -euo pipefail
say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }

SUDO=""
if [ "$(id -u)" != "0" ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi

if dpkg-query -W -f='${Status}' asterisk-core-sounds-en-wav 2>/dev/null | grep -q "install ok installed"; then
    exit 0
fi
say "installing recorded speech prompts: asterisk-core-sounds-en-wav"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends asterisk-core-sounds-en-wav >/dev/null
