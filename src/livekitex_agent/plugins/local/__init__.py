"""Offline providers: Silero and WebRTC VAD, PocketSphinx STT, espeak-ng TTS, Smart Turn end of turn,
RNNoise input filter.

The Python dependencies are optional (``pip install livekitex-agent[local]``); each provider
imports its own when constructed and raises ImportError with the install command if it is missing
(``RNNoiseFilter``: ``pip install livekitex-agent[noise]``).

Options the VADs share:

- ``sample_rate``: the rate (Hz) of the audio pushed to its streams (the session resamples to it).
- ``min_level_dbfs``: windows quieter than this (dBFS) count as silence, whatever the model says.
"""

from .espeak import EspeakTTS, synthesize_to_frame
from .rnnoise import RNNoiseFilter
from .silero import SileroVAD
from .smart_turn import SmartTurnDetector
from .sphinx import PocketSphinxSTT
from .webrtc import WebRTCVAD

__all__ = [
    "EspeakTTS",
    "PocketSphinxSTT",
    "RNNoiseFilter",
    "SileroVAD",
    "SmartTurnDetector",
    "WebRTCVAD",
    "synthesize_to_frame",
]
