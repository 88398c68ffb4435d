#!/usr/bin/env bash
# The livekit-agents 1.8.x virtualenv that bench/capacity_sbs.py (and its smoke test) compares
# against, in .tools/livekit-agents-1.8. Idempotent: nothing to do once it imports.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHONPATH=src .venv/bin/python bench/capacity_sbs.py --prepare
