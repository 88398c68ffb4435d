"""PocketSphinx streaming: interim hypotheses while audio arrives, the final at the end, off the loop."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

import pytest

from livekitex_agent.errors import ConfigError, ProviderError
from livekitex_agent.media import AudioFrame
from livekitex_agent.plugins.local import PocketSphinxSTT, sphinx_decoder
from livekitex_agent.providers import SpeechEvent, SpeechEventType, STTStream

from ._audio import chunks, espeak_clip, loop_ticks, white_noise
from .conftest import PHRASES

STEP = 30.0  # bound on any wait for the worker thread (a busy 2-core machine is slow, never stuck)


class Reader:
    """Reads a stream's events in a task, so a test can push audio and watch interims come."""

    def __init__(self, stream: STTStream) -> None:
        self.stream = stream
        self.events: list[SpeechEvent] = []
        self.changed = asyncio.Event()
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for event in self.stream:
            self.events.append(event)
            self.changed.set()

    def interims(self) -> list[str]:
        return [e.text for e in self.events if e.type is SpeechEventType.INTERIM_TRANSCRIPT]

    async def wait_interim(self) -> None:
        async with asyncio.timeout(STEP):
            while not self.interims():
                self.changed.clear()
                await self.changed.wait()

    async def final(self) -> SpeechEvent:
        await asyncio.wait_for(self.task, STEP)
        finals = [e for e in self.events if e.type is SpeechEventType.FINAL_TRANSCRIPT]
        assert len(finals) == 1 and self.events[-1] is finals[0]
        return finals[0]


async def stream_clip(stt: PocketSphinxSTT, frames: Sequence[AudioFrame]) -> tuple[list[str], SpeechEvent]:
    """Push ``frames``, see an interim before the end of input, then end; (interims, final)."""
    stream = stt.stream(language="en")
    reader = Reader(stream)
    try:
        for frame in frames:
            stream.push_frame(frame)
        await reader.wait_interim()  # the words show while the input is still open
        stream.end_input()
        final = await reader.final()
    finally:
        await stream.aclose()
    return reader.interims(), final


@pytest.mark.parametrize("stream_final", ["exact", "live"])
async def test_phrases_stream_interims_then_the_same_final_as_recognize(stream_final: str) -> None:
    stt = PocketSphinxSTT(phrases=PHRASES, stream_final=stream_final)  # type: ignore[arg-type]
    stt.prewarm()
    try:
        for phrase in PHRASES:
            clip = espeak_clip(phrase.rstrip("?."))
            interims, final = await stream_clip(stt, chunks(clip))
            assert interims and all(interims), phrase
            assert final.text == phrase == (await stt.recognize(chunks(clip))).text
            assert final.language == "en"
            assert final.audio_duration == pytest.approx(clip.duration, abs=0.01)
    finally:
        await stt.aclose()


async def test_language_model_stream_exact_final_matches_recognize() -> None:
    streamed, segmented = PocketSphinxSTT(max_decoders=1), PocketSphinxSTT(max_decoders=1)
    for stt in (streamed, segmented):
        stt.prewarm()
    try:
        for sentence in ("play some jazz music", "i would like to order a pizza"):
            clip = espeak_clip(sentence)
            interims, final = await stream_clip(streamed, chunks(clip))
            expected = (await segmented.recognize(chunks(clip))).text
            assert final.text == expected == sentence
            assert interims  # (how many depends on when the input ends: the live pass stops there)
    finally:
        await streamed.aclose()
        await segmented.aclose()


async def test_live_final_comes_from_the_live_pass_and_has_the_words() -> None:
    stt = PocketSphinxSTT(max_decoders=1, stream_final="live")
    stt.prewarm()
    try:
        sentence = "i would like to order a pizza"
        interims, final = await stream_clip(stt, chunks(espeak_clip(sentence)))
        assert final.text == sentence
        assert interims[-1] != "" and set(interims[-1].split()) <= set(sentence.split()) | {"i'd"}
    finally:
        await stt.aclose()


async def test_audio_at_other_rates_is_resampled(phrase_stt: PocketSphinxSTT) -> None:
    clip = espeak_clip("cancel my reservation", sample_rate=24000)
    _, final = await stream_clip(phrase_stt, chunks(clip))
    assert final.text == "Cancel my reservation"


async def test_silence_and_quiet_noise_give_an_empty_final(phrase_stt: PocketSphinxSTT) -> None:
    for audio in (AudioFrame.silence(1.0, 16000), white_noise(1.0, 16000, -65.0)):
        stream = phrase_stt.stream()
        reader = Reader(stream)
        for frame in chunks(audio):
            stream.push_frame(frame)
        stream.end_input()
        final = await reader.final()
        await stream.aclose()
        assert final.text == ""
    empty = phrase_stt.stream()  # no audio at all
    reader = Reader(empty)
    empty.end_input()
    assert (await reader.final()).text == ""
    await empty.aclose()


async def test_decoding_runs_in_a_worker_thread_and_the_loop_keeps_ticking(
    phrase_stt: PocketSphinxSTT, monkeypatch: pytest.MonkeyPatch
) -> None:
    loop_thread = threading.current_thread()
    seen: set[threading.Thread] = set()
    real_feed = sphinx_decoder._Decoder.feed

    def spy(self: sphinx_decoder._Decoder, *args: object) -> None:
        seen.add(threading.current_thread())
        real_feed(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(sphinx_decoder._Decoder, "feed", spy)
    async with loop_ticks() as ticks:
        _, final = await stream_clip(phrase_stt, chunks(espeak_clip("turn on the kitchen lights")))
    assert final.text == "turn on the kitchen lights"
    assert seen and loop_thread not in seen
    assert ticks.count >= 5  # the loop ran while the worker decoded


async def test_aclose_mid_stream_returns_the_decoder_and_recognize_still_works() -> None:
    stt = PocketSphinxSTT(max_decoders=1)
    stt.prewarm()
    try:
        stream = stt.stream()
        reader = Reader(stream)
        clip = espeak_clip("the quick brown fox jumps over the lazy dog and runs far away into the forest")
        for frame in chunks(clip):
            stream.push_frame(frame)
        await reader.wait_interim()
        await asyncio.wait_for(stream.aclose(), STEP)  # returns once the worker let go of its decoder
        await asyncio.wait_for(reader.task, STEP)  # the reader sees the end, not a final
        assert all(e.type is SpeechEventType.INTERIM_TRANSCRIPT for e in reader.events)
        assert len(stt._idle) == 1
        assert (await stt.recognize([espeak_clip("play some jazz music")])).text == "play some jazz music"
    finally:
        await stt.aclose()


async def test_streams_and_recognize_share_the_decoders() -> None:
    stt = PocketSphinxSTT(max_decoders=1)
    stt.prewarm()
    try:
        stream = stt.stream()
        reader = Reader(stream)
        for frame in chunks(espeak_clip("play some jazz music")):
            stream.push_frame(frame)
        await reader.wait_interim()  # the stream holds the only decoder
        pending = asyncio.create_task(stt.recognize([espeak_clip("i would like to order a pizza")]))
        await asyncio.sleep(0.2)
        assert not pending.done()  # waits for the decoder instead of creating a second one
        stream.end_input()
        assert (await reader.final()).text == "play some jazz music"
        await stream.aclose()
        assert (await asyncio.wait_for(pending, STEP)).text == "i would like to order a pizza"
        assert len(stt._idle) == 1
    finally:
        await stt.aclose()


async def test_other_languages_are_rejected_by_name(phrase_stt: PocketSphinxSTT) -> None:
    with pytest.raises(ProviderError, match="'de'") as info:
        phrase_stt.stream(language="de")
    assert not info.value.retryable


def test_streaming_is_what_the_user_asks_for() -> None:
    """Off by default (the session recognizes per segment: a third of the CPU), on when asked."""
    assert not PocketSphinxSTT().capabilities.streaming
    streaming = PocketSphinxSTT(streaming=True).capabilities
    assert streaming.streaming and streaming.interim_results


def test_stream_final_is_validated() -> None:
    with pytest.raises(ConfigError, match="stream_final.*'fast'"):
        PocketSphinxSTT(stream_final="fast")  # type: ignore[arg-type]
