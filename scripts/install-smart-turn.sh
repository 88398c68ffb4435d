#!/usr/bin/env bash
# Installs the Smart Turn v3.2 end-of-turn model (ONNX, 8.7 MB, BSD-2-Clause) into .tools/models, once.
# The model ships inside the pipecat-ai wheel on PyPI; only the wheel is downloaded (--no-deps) and
# only the model and the wheel's licence are taken out of it: the pipecat framework is not installed.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=1.14.0
SHA256=2bb026316b14a660486a75b1733cd3fbab8c2fd0314dc9af7be49f8cca967e4f
DEST=.tools/models
MODEL=$DEST/smart-turn-v3.2-cpu.onnx
say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }

if [ -f "$MODEL" ] && echo "$SHA256  $MODEL" | sha256sum -c --status; then
    exit 0
fi
PY=.venv/bin/python
[ -x "$PY" ] || PY=python3
say "taking smart-turn-v3.2-cpu.onnx out of the pipecat-ai $VERSION wheel (no dependencies)"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$PY" -m pip download -q --no-deps --only-binary=:all: "pipecat-ai==$VERSION" -d "$tmp"
mkdir -p "$DEST"
"$PY" - "$tmp"/pipecat_ai-*.whl "$DEST" <<'PYEOF'
import sys, zipfile
wheel, dest = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as z:
    names = z.namelist()
    files = {
        "pipecat/audio/turn/smart_turn/data/smart-turn-v3.2-cpu.onnx": "smart-turn-v3.2-cpu.onnx",
        next(n for n in names if n.endswith(".dist-info/licenses/LICENSE")): "smart-turn-v3.2-cpu.LICENSE",
    }
    for name, target in files.items():
        with z.open(name) as src, open(f"{dest}/{target}.part", "wb") as out:
            out.write(src.read())
PYEOF
echo "$SHA256  $MODEL.part" | sha256sum -c --status || { echo "smart-turn model checksum mismatch" >&2; exit 1; }
mv -f "$MODEL.part" "$MODEL"
mv -f "$DEST/smart-turn-v3.2-cpu.LICENSE.part" "$DEST/smart-turn-v3.2-cpu.LICENSE"
say "installed $MODEL (licence: $DEST/smart-turn-v3.2-cpu.LICENSE)"
