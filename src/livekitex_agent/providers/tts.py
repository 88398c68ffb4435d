"""Text to speech: text in, a stream of audio frames out."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from typing import Any

from ..media.frame import AudioFrame
from .base import Provider


class TTSStream(ABC):
    """The audio of one synthesis. Iterate for frames; ``aclose`` cancels it."""

    @abstractmethod
    def __aiter__(self) -> AsyncIterator[AudioFrame]: ...

    @abstractmethod
    async def aclose(self) -> None: ...

    async def __aenter__(self) -> TTSStream:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()


class TTS(Provider, ABC):
    """A speech synthesizer producing mono 16-bit frames at ``sample_rate``."""

    sample_rate: int = 24000
    num_channels: int = 1

    @abstractmethod
    def synthesize(self, text: str) -> TTSStream:
        """Synthesize ``text``; the request starts when iteration starts."""


class GeneratorTTSStream(TTSStream):
    """A :class:`TTSStream` backed by an async generator function."""

    def __init__(self, factory: Any) -> None:
        self._factory = factory
        self._gen: Any = None

    def __aiter__(self) -> AsyncIterator[AudioFrame]:
        if self._gen is not None:
            raise RuntimeError("a TTS stream can be iterated only once")
        self._gen = self._factory()
        return self._gen

    async def aclose(self) -> None:
        if self._gen is not None:
            await self._gen.aclose()
