"""Session I/O implementations: LiveKit rooms, console (WAV files), in-memory."""

from ..media.io import AudioInput, AudioOutput, SessionIO, TextOutput
from .memory import MemoryIO

__all__ = ["AudioInput", "AudioOutput", "MemoryIO", "SessionIO", "TextOutput"]
