from __future__ import annotations

import asyncio

import psutil
import pytest

from livekitex_agent.errors import ConfigError, ProviderError
from livekitex_agent.media import AudioFrame
from livekitex_agent.plugins.local import EspeakTTS, synthesize_to_frame
from livekitex_agent.plugins.local.espeak import parse_wav_header

from ._audio import voiced_bounds

# the first 44 bytes espeak-ng writes to a pipe (recorded): sizes are placeholders, 22050 Hz mono
ESPEAK_HEADER = bytes.fromhex(
    "5249464624f0ff7f57415645666d742010000000010001002256000044ac0000020010006461746100f0ff7f"
)
LONG_TEXT = " ".join(["This sentence is long enough to keep espeak busy for a while."] * 40)


def _espeak_children() -> list[psutil.Process]:
    out = []
    for child in psutil.Process().children(recursive=True):
        try:
            if "espeak" in child.name():
                out.append(child)
        except psutil.NoSuchProcess:
            pass
    return out


async def _wait_no_espeak() -> list[psutil.Process]:
    for _ in range(100):  # bounded: at most ~1 s
        left = _espeak_children()
        if not left:
            return left
        await asyncio.sleep(0.01)
    return _espeak_children()


def test_parse_wav_header_of_recorded_espeak_output() -> None:
    header = parse_wav_header(ESPEAK_HEADER + b"\x00\x00")
    assert header is not None
    assert (header.sample_rate, header.num_channels, header.size) == (22050, 1, 44)
    assert parse_wav_header(ESPEAK_HEADER[:30]) is None  # needs more bytes
    with pytest.raises(ValueError, match="not a WAV"):
        parse_wav_header(b"hello, this is not audio")
    eight_bit = bytearray(ESPEAK_HEADER)
    eight_bit[34] = 8
    with pytest.raises(ValueError, match="8 bits"):
        parse_wav_header(bytes(eight_bit))


@pytest.mark.parametrize("rate", [16000, 24000])
async def test_duration_and_sample_rate(rate: int) -> None:
    text = "the quick brown fox jumps over the lazy dog"
    clip = await synthesize_to_frame(text, sample_rate=rate)
    assert clip.sample_rate == rate and clip.num_channels == 1
    start, end = voiced_bounds(clip)
    words = len(text.split())
    assert 0.25 * words <= end - start <= 0.7 * words
    assert clip.rms_dbfs() > -30.0  # real speech, not near-silence


async def test_sample_rates_give_the_same_duration_and_longer_text_longer_audio() -> None:
    a16 = await synthesize_to_frame("hello there", sample_rate=16000)
    a24 = await synthesize_to_frame("hello there", sample_rate=24000)
    assert a16.duration == pytest.approx(a24.duration, abs=0.01)
    longer = await synthesize_to_frame(
        "hello there, how are you doing on this fine morning?", sample_rate=16000
    )
    assert longer.duration > a16.duration + 1.0


async def test_rate_option_changes_speed() -> None:
    slow = await synthesize_to_frame("one two three four five six", rate=120)
    fast = await synthesize_to_frame("one two three four five six", rate=300)
    assert fast.duration < 0.7 * slow.duration


async def test_frames_are_streamed_in_small_pieces() -> None:
    tts = EspeakTTS(sample_rate=16000)
    frames: list[AudioFrame] = []
    async with tts.synthesize("Good morning. This is a longer sentence for the streaming test.") as stream:
        async for frame in stream:
            frames.append(frame)
    assert len(frames) > 10
    assert all(f.sample_rate == 16000 and f.duration <= 0.1 for f in frames)
    assert not await _wait_no_espeak()


async def test_closing_mid_stream_kills_the_process() -> None:
    tts = EspeakTTS()
    stream = tts.synthesize(LONG_TEXT)
    iterator = stream.__aiter__()
    first = await iterator.__anext__()
    assert first.samples_per_channel > 0
    running = _espeak_children()
    assert running and all(p.status() != psutil.STATUS_ZOMBIE for p in running)  # still speaking
    await stream.aclose()
    assert not await _wait_no_espeak()  # killed and reaped: no process, no zombie


async def test_cancelling_the_reader_kills_the_process() -> None:
    tts = EspeakTTS()
    started = asyncio.Event()

    async def consume() -> None:
        async with tts.synthesize(LONG_TEXT) as stream:
            async for _ in stream:
                started.set()
                await asyncio.sleep(0.01)  # a slow consumer: espeak blocks on the full pipe

    task = asyncio.create_task(consume())
    await asyncio.wait_for(started.wait(), timeout=10)
    assert _espeak_children()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 10)  # a hang fails this test instead of blocking the suite
    assert not await _wait_no_espeak()


async def test_empty_text_gives_no_audio_and_no_process() -> None:
    tts = EspeakTTS()
    for text in ("", "   \n"):
        async with tts.synthesize(text) as stream:
            assert [f async for f in stream] == []
    clip = await synthesize_to_frame("")
    assert clip.duration == 0.0 and clip.sample_rate == 24000


async def test_unknown_voice_is_a_provider_error_naming_it() -> None:
    tts = EspeakTTS(voice="xx-nosuchvoice")
    with pytest.raises(ProviderError, match="xx-nosuchvoice") as info:
        async with tts.synthesize("hello") as stream:
            async for _ in stream:
                pass
    assert not info.value.retryable
    assert not await _wait_no_espeak()


def test_missing_binary_names_the_install_command() -> None:
    with pytest.raises(ProviderError, match="apt-get install espeak-ng"):
        EspeakTTS(binary="espeak-ng-not-installed")


def test_options_are_validated_with_the_bad_value() -> None:
    with pytest.raises(ConfigError, match="10"):
        EspeakTTS(rate=10)
    with pytest.raises(ConfigError, match="150"):
        EspeakTTS(pitch=150)
    with pytest.raises(ConfigError, match="4000"):
        EspeakTTS(sample_rate=4000)
    with pytest.raises(ConfigError, match="'-x'"):
        EspeakTTS(voice="-x")
