"""Microphone and speaker I/O on real (virtual) sound devices: a private PulseAudio server with null
sinks, reached through PortAudio exactly as a user's sound card would be."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import numpy as np
import pytest

from livekitex_agent import Agent
from livekitex_agent.media import AudioFrame
from livekitex_agent.media.io import PlaybackFinished
from livekitex_agent.rooms import audio_device
from livekitex_agent.rooms.audio_device import AudioDeviceError, check_settings, find_device
from livekitex_agent.rooms.console import DeviceConsoleIO
from livekitex_agent.rooms.microphone import MicrophoneInput, SampleRing
from livekitex_agent.rooms.speaker import SpeakerOutput
from livekitex_agent.session import AgentSession
from livekitex_agent.testing import FakeLLM, FakeSTT, FakeTTS, FakeVAD, wait_until
from pulse_audio import PulseServer, Recording, loud_seconds, require_audio_stack, speak

DEVICE = "pulse"  # ALSA's PulseAudio device: always routed to our private server


@pytest.fixture(scope="module")
def pulse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PulseServer]:
    require_audio_stack()
    server = PulseServer(tmp_path_factory.mktemp("pulse"))
    server.start()
    with pytest.MonkeyPatch.context() as mp:
        for key, value in server.env.items():
            mp.setenv(key, value)
        sd = importlib.import_module("sounddevice")
        sd._terminate()  # PortAudio lists devices when it starts: look again now the server runs
        sd._initialize()
        try:
            yield server
        finally:
            server.stop()
            sd._terminate()
            sd._initialize()


def tone(seconds: float, rate: int, frequency: float = 440.0) -> AudioFrame:
    t = np.arange(round(seconds * rate)) / rate
    return AudioFrame.from_float(0.3 * np.sin(2 * np.pi * frequency * t), rate)


async def play_tone(out: SpeakerOutput, seconds: float, frame_seconds: float = 0.1) -> None:
    """Queue a ``seconds`` long tone in 0.1 s frames (as a TTS would) and close the segment."""
    audio = tone(seconds, out.sample_rate)
    step = round(frame_seconds * audio.sample_rate)
    for i in range(0, audio.samples_per_channel, step):
        await out.capture_frame(AudioFrame(audio.data[i : i + step], audio.sample_rate))
    out.flush()


@contextlib.asynccontextmanager
async def speaker_playing(
    pulse: PulseServer, tmp_path: Path, seconds: float, reached: float
) -> AsyncIterator[tuple[SpeakerOutput, Recording]]:
    """A speaker (and a recording of it) playing a ``seconds`` tone, once ``reached`` seconds played."""
    recording = pulse.record_speaker(tmp_path / "speaker.raw")
    out = SpeakerOutput(DEVICE)
    try:
        await play_tone(out, seconds)
        await wait_until(lambda: out.position >= reached, timeout=30, what=f"{reached} s played")
        yield out, recording
    finally:
        await out.aclose()


def loud_tone_seconds(seconds: float) -> float:
    """How much of a ``seconds`` long tone the speaker recording counts as loud."""
    return loud_seconds(tone(seconds, 16000).data, 16000)


async def test_speaker_plays_a_reply_whole_and_says_when_it_finished(pulse: PulseServer, tmp_path: Path) -> None:
    recording = pulse.record_speaker(tmp_path / "speaker.raw")
    out = SpeakerOutput(DEVICE)
    started: list[float] = []
    out.on_playback_started(started.append)
    try:
        await play_tone(out, 1.0)
        result = await asyncio.wait_for(out.wait_for_playout(), 30)
    finally:
        await out.aclose()
    await asyncio.sleep(0.3)  # the last block reaches the monitor
    heard = loud_seconds(recording.stop(), 16000)
    assert result == PlaybackFinished(position=pytest.approx(1.0), interrupted=False)
    assert len(started) == 1
    assert heard == pytest.approx(loud_tone_seconds(1.0), abs=0.05)  # none lost or doubled


async def test_clear_stops_the_voice_and_reports_what_was_heard(pulse: PulseServer, tmp_path: Path) -> None:
    async with speaker_playing(pulse, tmp_path, 4.0, reached=0.5) as (out, recording):
        out.clear_buffer()
        result = await out.wait_for_playout()
        await asyncio.sleep(0.5)
    heard = loud_seconds(recording.stop(), 16000)
    assert result.interrupted
    assert 0.5 <= result.position < 2.0
    # what came out is what the position says, plus at most the device's latency and a block or two
    expected = loud_tone_seconds(result.position)
    assert expected - 0.05 <= heard <= expected + out.latency + 0.1


async def test_pause_holds_the_voice_and_resume_goes_on_where_it_stopped(
    pulse: PulseServer, tmp_path: Path
) -> None:
    async with speaker_playing(pulse, tmp_path, 1.5, reached=0.3) as (out, recording):
        out.pause()
        held = out.position
        await asyncio.sleep(0.5)
        assert out.position == held  # nothing plays while paused
        assert not out.echo_active(tail=0.0)  # the guard lets the user speak while the agent is paused
        out.resume()
        result = await asyncio.wait_for(out.wait_for_playout(), 30)
    await asyncio.sleep(0.3)
    heard = loud_seconds(recording.stop(), 16000)
    assert result == PlaybackFinished(position=pytest.approx(1.5), interrupted=False)
    # the paused reply is played whole, nothing twice
    assert heard == pytest.approx(loud_tone_seconds(1.5), abs=0.05)


async def listen_while_playing(
    pulse: PulseServer, mic: MicrophoneInput, clip: Path, after: int = 0
) -> list[AudioFrame]:
    """The frames ``mic`` delivers while ``clip`` is played into the microphone (and ``after`` more)."""
    frames: list[AudioFrame] = []

    async def listen() -> None:
        async for frame in mic:
            frames.append(frame)

    task = asyncio.create_task(listen())
    try:
        await wait_until(lambda: len(frames) >= 5, timeout=30, what="the microphone to start")
        player = pulse.play_into_mic(clip)
        await asyncio.to_thread(player.wait, 60)
        count = len(frames)
        await wait_until(lambda: len(frames) >= count + after, timeout=30, what=f"{after} more frames")
    finally:
        await mic.aclose()
        await asyncio.wait_for(task, 10)
    return frames


async def test_microphone_delivers_what_is_spoken_into_it(pulse: PulseServer, tmp_path: Path) -> None:
    spoken = speak("hello there, how are you", tmp_path / "clip.wav")
    mic = MicrophoneInput(DEVICE, sample_rate=16000)
    frames = await listen_while_playing(pulse, mic, tmp_path / "clip.wav", after=25)
    assert {f.sample_rate for f in frames} == {16000}
    assert {f.samples_per_channel for f in frames} == {320}  # 20 ms frames
    audio = np.concatenate([f.data for f in frames])
    assert loud_seconds(audio, 16000) == pytest.approx(spoken, rel=0.1)
    assert mic.dropped_duration == 0.0


async def test_muted_microphone_delivers_silence(pulse: PulseServer, tmp_path: Path) -> None:
    speak("hello there", tmp_path / "clip.wav")
    mic = MicrophoneInput(DEVICE, mute=lambda: True)
    frames = await listen_while_playing(pulse, mic, tmp_path / "clip.wav")
    assert mic.muted_frames == len(frames) > 50
    assert not any(f.data.any() for f in frames)


def test_devices_are_found_by_index_or_name_and_bad_values_are_named(pulse: PulseServer) -> None:
    by_name = find_device(DEVICE, "input")
    assert by_name.name == DEVICE
    assert find_device(str(by_name.index), "output").index == by_name.index
    with pytest.raises(AudioDeviceError, match=r"--input-device='no-such-mic' matches no input device.*pulse"):
        find_device("no-such-mic", "input")
    with pytest.raises(AudioDeviceError, match=r"--output-device=999: no output device has index 999"):
        find_device(999, "output")
    with pytest.raises(AudioDeviceError, match=r"--sample-rate=1: input device .*pulse.* does not support it"):
        check_settings(by_name, "input", sample_rate=1)
    assert "pulse" in audio_device.format_devices()


def test_missing_portaudio_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_portaudio(name: str) -> object:
        raise OSError("PortAudio library not found")

    monkeypatch.setattr(audio_device.importlib, "import_module", no_portaudio)
    with pytest.raises(AudioDeviceError, match="PortAudio library.*libportaudio2"):
        SpeakerOutput()


def test_sample_ring_keeps_the_newest_samples_and_detects_overwrites() -> None:
    ring = SampleRing(8)
    ring.write(np.arange(6, dtype=np.int16))
    out = np.empty(4, np.int16)
    assert ring.read(0, out) and out.tolist() == [0, 1, 2, 3]
    ring.write(np.arange(6, 12, dtype=np.int16))  # wraps around: samples 0..3 are gone
    assert not ring.read(0, out)
    assert ring.read(6, out) and out.tolist() == [6, 7, 8, 9]
    assert not ring.read(6, out, margin=4)  # the producer may be writing over it right now


async def test_barge_in_cuts_the_reply_to_what_came_out_of_the_speaker(
    pulse: PulseServer, tmp_path: Path
) -> None:
    """Headphones (no echo guard): the user talks over a long reply; the agent stops and its message
    in the history keeps only the words that were played."""
    speak("hello there", tmp_path / "hello.wav")
    speak("stop please", tmp_path / "stop.wav", lead_silence=0.0)
    reply = "This is a long answer that goes on and on for quite a while, so that you can cut in."
    tts = FakeTTS()
    session = AgentSession(
        vad=FakeVAD(), stt=FakeSTT(["hello there", "stop please"]), llm=FakeLLM([reply, "Sure."]), tts=tts
    )
    io = DeviceConsoleIO(input_device=DEVICE, output_device=DEVICE, echo_guard=False)
    recording = pulse.record_speaker(tmp_path / "speaker.raw")
    await session.start(Agent("Be brief."), io=io)
    try:
        await asyncio.to_thread(pulse.play_into_mic(tmp_path / "hello.wav").wait, 60)
        await wait_until(lambda: io.speaker.position >= 1.0, timeout=60, what="a second of the reply")
        await asyncio.to_thread(pulse.play_into_mic(tmp_path / "stop.wav").wait, 60)
        await wait_until(
            lambda: any(m.interrupted for m in session.history.messages()), timeout=60, what="the cut reply"
        )
        await asyncio.sleep(0.5)
    finally:
        await session.aclose()
    heard = loud_seconds(recording.stop(), 16000)
    [cut] = [m for m in session.history.messages() if m.interrupted]
    kept = cut.content.split()
    assert 0 < len(kept) < len(reply.split()) and reply.split()[: len(kept)] == kept
    # the words kept are those played: never a word that did not come out of the speaker, and at most
    # about one word (the one being said) plus the device's buffer fewer
    words = reply.split()
    heard_s = heard / loud_tone_seconds(1.0)
    kept_s = len(kept) / len(words) * tts.duration_for(reply)
    assert kept_s <= heard_s + 0.1
    assert heard_s - kept_s <= tts.duration_for(reply) / len(words) + 0.5
    assert heard_s < 0.8 * tts.duration_for(reply)  # the rest was not played
