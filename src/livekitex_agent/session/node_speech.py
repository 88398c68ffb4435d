"""A reply step's sentences spoken through the agent's ``tts_node`` (when the agent overrides it).

The node takes the sentences (what the TTS hears, after the text transforms) one at a time and
yields audio; the audio that follows its taking a sentence is that sentence's, which places the
sentence on the reply's timeline (transcript sync, cut on interruption). A preemptive reply's
prepared first sentence was made by the same node: it is played as it is.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Protocol

from ..media.frame import AudioFrame
from ..media.resample import Resampler
from ..nodes import bad_item, run_node
from ..providers.tts import TTS
from .preemptive import prepared_audio
from .timeline import TextSegment


class SpokenReply(Protocol):
    """What the ``tts_node`` path needs of the reply it speaks for (a ``ReplyGeneration``)."""

    def speakable(self, sentence: str) -> str:
        """What the TTS hears of ``sentence`` (the text transforms)."""

    def begin_sentence(self, sentence: str, step: int) -> TextSegment:
        """``sentence``'s audio starts now (the text sync may show it when it plays)."""

    def tts_requested(self) -> None: ...

    def tts_first_frame(self) -> None: ...

    async def play(self, frame: AudioFrame | None, resampler: Resampler | None) -> None:
        """Write ``frame`` (resampled) to the audio output and the timeline."""

    def emit_tts_usage(self, provider: str, spoken: str, audio: float, requested: float) -> None: ...


async def speak_through_node(
    reply: SpokenReply,
    agent: object,
    queue: asyncio.Queue[str | None],
    *,
    step: int,
    tts: TTS | None,
    output_rate: int | None,
) -> None:
    """Speak the sentences of ``queue`` (until ``None``) through ``agent.tts_node``."""
    loop = asyncio.get_running_loop()
    label = tts.label if tts is not None else "tts_node"
    resampler = Resampler(output_rate) if output_rate else None
    taken: list[tuple[str, str, float]] = []  # the sentence the node took last, its audio not begun
    playing: list[tuple[TextSegment, str, float]] = []  # the sentence being played, for its usage metrics

    def finish() -> None:
        if playing:
            segment, spoken, requested = playing.pop()
            reply.emit_tts_usage(label, spoken, segment.duration, requested)

    def begin() -> None:  # the audio of the sentence taken last starts now
        sentence, spoken, requested = taken.pop()
        finish()
        playing.append((reply.begin_sentence(sentence, step), spoken, requested))

    async def out(frame: AudioFrame) -> None:
        reply.tts_first_frame()
        if taken:
            begin()
        await reply.play(frame, resampler)

    async def sentences() -> AsyncIterator[str]:
        while (sentence := await queue.get()) is not None:
            if taken:
                begin()  # the node made no audio for the previous sentence
            spoken = reply.speakable(sentence)
            if not spoken.strip():  # nothing to say (e.g. only an emoji)
                finish()
                reply.begin_sentence(sentence, step)
                continue
            reply.tts_requested()
            taken.append((sentence, spoken, loop.time()))
            prepared = prepared_audio(tts, spoken)
            if prepared is None:
                yield spoken
                continue
            try:
                async for frame in prepared:
                    await out(frame)
            finally:
                await prepared.aclose()

    async for frame in run_node(agent, "tts_node", sentences()):
        if not isinstance(frame, AudioFrame):
            raise bad_item(agent, "tts_node", frame, "AudioFrame")
        await out(frame)
    if taken:
        begin()
    if resampler is not None:
        await reply.play(resampler.flush(), None)
    finish()
