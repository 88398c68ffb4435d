"""Audio frames, resampling, WAV files and the session I/O interfaces."""

from .filter import AudioFilter, AudioFilterChain
from .frame import AudioFrame, combine_frames
from .io import AudioInput, AudioOutput, PacedAudioOutput, PlaybackFinished, SessionIO, TextOutput
from .resample import Resampler, resample
from .wav import read_wav, write_wav

__all__ = [
    "AudioFilter",
    "AudioFilterChain",
    "AudioFrame",
    "AudioInput",
    "AudioOutput",
    "PacedAudioOutput",
    "PlaybackFinished",
    "Resampler",
    "SessionIO",
    "TextOutput",
    "combine_frames",
    "read_wav",
    "resample",
    "write_wav",
]
