from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from livekitex_agent.errors import ConfigError, ProviderError
from livekitex_agent.media import AudioFrame
from livekitex_agent.plugins.local import PocketSphinxSTT
from livekitex_agent.plugins.local import sphinx as sphinx_module
from livekitex_agent.providers import SpeechEventType

from ._audio import chunks, espeak_clip, loop_ticks, white_noise
from .conftest import PHRASES


@pytest.fixture(scope="module")
def lm_stt() -> Iterator[PocketSphinxSTT]:
    stt = PocketSphinxSTT(max_decoders=2)
    stt.prewarm(2)
    yield stt
    asyncio.run(stt.aclose())


@pytest.mark.parametrize("phrase", PHRASES)
async def test_phrases_are_recognized_exactly(phrase_stt: PocketSphinxSTT, phrase: str) -> None:
    clip = espeak_clip(phrase.rstrip("?."))
    event = await phrase_stt.recognize(chunks(clip))  # a VAD segment arrives as many small frames
    assert event.type is SpeechEventType.FINAL_TRANSCRIPT
    assert event.text == phrase  # returned as written in the phrase list
    assert event.language == "en"
    assert event.audio_duration == pytest.approx(clip.duration, abs=0.01)


@pytest.mark.parametrize("voice", ["en-gb-x-rp", "en-us+f3"])
async def test_phrases_survive_other_voices_and_rates(phrase_stt: PocketSphinxSTT, voice: str) -> None:
    for phrase in PHRASES:
        clip = espeak_clip(phrase.rstrip("?."), voice=voice, rate=150)
        assert (await phrase_stt.recognize([clip])).text == phrase


async def test_speech_outside_the_phrases_falls_back_to_the_language_model(
    phrase_stt: PocketSphinxSTT,
) -> None:
    for sentence in ("I would like to order a pizza", "hello how are you today"):
        text = (await phrase_stt.recognize([espeak_clip(sentence)])).text
        assert text not in PHRASES, f"{sentence!r} was forced into a phrase"
        assert set(text.split()) & set(sentence.lower().split()), f"{sentence!r} -> {text!r}"


async def test_phrase_audio_at_other_rates_is_resampled(phrase_stt: PocketSphinxSTT) -> None:
    clip = espeak_clip("cancel my reservation", sample_rate=24000)
    assert (await phrase_stt.recognize(chunks(clip))).text == "Cancel my reservation"


async def test_without_phrases_some_text_comes_back(lm_stt: PocketSphinxSTT) -> None:
    sentence = "play some jazz music"
    event = await lm_stt.recognize([espeak_clip(sentence)])
    words = event.text.split()
    assert words, "no transcript"
    assert set(words) & set(sentence.split()), event.text


async def test_silence_and_quiet_noise_give_an_empty_transcript(
    lm_stt: PocketSphinxSTT, phrase_stt: PocketSphinxSTT
) -> None:
    for stt in (lm_stt, phrase_stt):
        for audio in (AudioFrame.silence(1.5, 16000), white_noise(1.5, 16000, -50.0)):
            event = await stt.recognize([audio])
            assert event.type is SpeechEventType.FINAL_TRANSCRIPT
            assert event.text == ""
    assert (await lm_stt.recognize([])).text == ""


async def test_decoding_runs_off_the_event_loop_and_concurrently(
    lm_stt: PocketSphinxSTT, monkeypatch: pytest.MonkeyPatch
) -> None:
    loop_thread = threading.current_thread()
    seen: list[threading.Thread] = []
    real_run = sphinx_module._Decoder.run

    def spy(self: sphinx_module._Decoder, *args: object) -> object:
        seen.append(threading.current_thread())
        return real_run(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(sphinx_module._Decoder, "run", spy)
    async with loop_ticks() as ticks:
        a, b = await asyncio.gather(
            lm_stt.recognize([espeak_clip("the quick brown fox jumps over the lazy dog")]),
            lm_stt.recognize([espeak_clip("play some jazz music")]),
        )
    assert a.text and b.text
    assert seen and loop_thread not in seen
    assert len(set(seen)) == 2  # two decoders worked at the same time
    assert ticks.count >= 5  # the loop kept running while the decoders worked


async def test_cancel_returns_the_decoder_and_the_next_call_works(monkeypatch: pytest.MonkeyPatch) -> None:
    stt = PocketSphinxSTT(max_decoders=1)
    stt.prewarm()
    decoding, released = threading.Event(), threading.Event()
    real_decode, real_release = PocketSphinxSTT._decode, PocketSphinxSTT._release

    def decode(self: PocketSphinxSTT, *args: Any) -> Any:
        decoding.set()
        return real_decode(self, *args)

    def release(self: PocketSphinxSTT, decoder: Any, keep: bool) -> None:
        real_release(self, decoder, keep)
        released.set()

    monkeypatch.setattr(PocketSphinxSTT, "_decode", decode)
    monkeypatch.setattr(PocketSphinxSTT, "_release", release)
    clip = espeak_clip("the quick brown fox jumps over the lazy dog and runs far away into the forest")
    task = asyncio.create_task(stt.recognize([clip]))
    assert await asyncio.to_thread(decoding.wait, 10), "the decoder never started"
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 10)  # a hang fails this test instead of blocking the suite
    # the worker thread notices within one 20 ms piece and hands the decoder back
    assert await asyncio.to_thread(released.wait, 10), "the decoder was never released"
    assert len(stt._idle) == 1
    assert (await stt.recognize([espeak_clip("play some jazz music")])).text
    await stt.aclose()


async def test_other_languages_are_rejected_by_name(lm_stt: PocketSphinxSTT) -> None:
    with pytest.raises(ProviderError, match="'fr'") as info:
        await lm_stt.recognize([espeak_clip("hello")], language="fr")
    assert not info.value.retryable
    assert (await lm_stt.recognize([AudioFrame.silence(0.5, 16000)], language="en-US")).text == ""


def test_phrases_are_validated() -> None:
    with pytest.raises(ConfigError, match="'7'"):
        PocketSphinxSTT(phrases=["book a table at 7"])
    with pytest.raises(ConfigError, match="'zzqxw'"):
        PocketSphinxSTT(phrases=["hello zzqxw"])
    with pytest.raises(ConfigError, match="list of strings"):
        PocketSphinxSTT(phrases="cancel my reservation")
    with pytest.raises(ConfigError, match="empty"):
        PocketSphinxSTT(phrases=[])
    with pytest.raises(ConfigError, match="max_decoders.*0"):
        PocketSphinxSTT(max_decoders=0)


def test_comfort_noise_is_deterministic_and_quiet() -> None:
    stt = PocketSphinxSTT()
    clip = espeak_clip("cancel my reservation")
    one = np.frombuffer(stt._add_comfort_noise(clip), dtype="<i2")
    two = np.frombuffer(stt._add_comfort_noise(clip), dtype="<i2")
    assert np.array_equal(one, two)
    added = one.astype(np.float64) - clip.data
    ratio_db = 10 * np.log10(np.mean(added**2) / np.mean(clip.data.astype(np.float64) ** 2))
    assert -32.0 < ratio_db < -28.0  # ~30 dB under the speech: masks digital silence only


async def test_an_stt_built_per_call_reuses_the_decoder_an_earlier_call_left(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The README's entrypoint builds its providers per call: only the first call loads a decoder."""
    built: list[object] = []
    real_init = sphinx_module._Decoder.__init__

    def counting_init(self: Any, *args: Any) -> None:
        built.append(self)
        real_init(self, *args)

    monkeypatch.setattr(sphinx_module._Decoder, "__init__", counting_init)
    phrases = ["open the door", "close the window please"]  # a grammar no other test uses
    for _ in range(3):  # three calls, one after the other, each with its own STT
        stt = PocketSphinxSTT(phrases=phrases)
        assert (await stt.recognize([espeak_clip("open the door")])).text == "open the door"
        await stt.aclose()  # what the session does when the call ends
    assert len(built) == 1
