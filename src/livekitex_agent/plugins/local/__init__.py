"""Offline providers: Silero and WebRTC VAD, PocketSphinx STT, espeak-ng TTS, Smart Turn end of turn.

The Python dependencies are optional (``pip install livekitex-agent[local]``); each provider
imports its own when constructed and raises ImportError with the install command if it is missing.
"""

from .espeak import EspeakTTS, synthesize_to_frame
from .silero import SileroVAD
from .smart_turn import SmartTurnDetector
from .sphinx import PocketSphinxSTT
from .webrtc import WebRTCVAD

__all__ = [
    "EspeakTTS",
    "PocketSphinxSTT",
    "SileroVAD",
    "SmartTurnDetector",
    "WebRTCVAD",
    "synthesize_to_frame",
]
