"""Framework overhead per turn, with zero-delay fake providers and a real VAD.

200 spoken turns go through the whole audio pipeline (16 kHz input in 20 ms frames → resample →
VAD → STT → end of turn → LLM → sentence split → TTS → paced output). The loop runs on virtual
time, so waiting costs nothing, and the wall-clock CPU work is measured with ``perf_counter``:

- added latency: end-of-turn decision → first agent audio frame written (p50/p95/max wall time,
  and the same span in thread CPU time, which a loaded machine does not inflate)
- CPU per session: process CPU time / seconds of audio the session processed

Usage: ``python bench/turn_overhead.py [--turns 200] [--vad silero|webrtc|energy]``
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import subprocess
import time

import numpy as np

from livekitex_agent import Agent
from livekitex_agent.media import AudioFrame, resample
from livekitex_agent.metrics import percentile
from livekitex_agent.providers import VAD
from livekitex_agent.session import AgentSession
from livekitex_agent.session.listening import PipelineListener
from livekitex_agent.session.turn_timing import TurnTiming
from livekitex_agent.testing import FakeLLM, FakeSTT, FakeTTS, FakeVAD, MemoryIO, run_virtual


def make_vad(kind: str) -> tuple[VAD, str]:
    if kind in ("silero", "webrtc"):
        try:
            from livekitex_agent.plugins import local

            return (local.SileroVAD() if kind == "silero" else local.WebRTCVAD()), kind
        except Exception as e:  # not installed: say so, measure with the energy VAD
            print(f"# {kind} VAD unavailable ({e}); using the energy VAD")
    return FakeVAD(), "energy"


def utterance() -> AudioFrame:
    """Real speech from espeak-ng when it is installed (a VAD model needs speech), else a tone."""
    if shutil.which("espeak-ng"):
        wav = subprocess.run(
            ["espeak-ng", "-v", "en-us", "-s", "170", "--stdout", "what is the weather like in paris today"],
            check=True,
            capture_output=True,
        ).stdout
        # skip the 44-byte RIFF header; espeak-ng writes 22050 Hz mono PCM16
        frame = AudioFrame(np.frombuffer(wav[44:], dtype="<i2").astype(np.int16), 22050)
        return resample(frame, 16000)
    t = np.arange(16000) / 16000
    return AudioFrame.from_float(0.3 * np.sin(2 * np.pi * 300 * t), 16000)


async def run(turns: int, vad_kind: str) -> None:
    vad, vad_name = make_vad(vad_kind)
    io = MemoryIO(input_sample_rate=16000, frame_duration=0.02)
    session = AgentSession(
        vad=vad,
        stt=FakeSTT(default="what is the weather like in paris today"),
        llm=FakeLLM(default="It is sunny. Anything else?", keep_requests=2),
        tts=FakeTTS(seconds_per_char=0.01),
        user_away_timeout=None,
        max_history_items=50,
    )
    eot: list[tuple[float, float]] = []
    first_frame: list[tuple[float, float]] = []
    original = PipelineListener._end_of_turn

    def on_end_of_turn(listener: PipelineListener, text: str, timing: TurnTiming) -> None:
        eot.append((time.perf_counter(), time.thread_time()))
        original(listener, text, timing)

    PipelineListener._end_of_turn = on_end_of_turn  # type: ignore[method-assign]
    await session.start(Agent("Answer briefly."), io=io)
    assert io.audio_output is not None
    io.audio_output.on_playback_started(
        lambda _t: first_frame.append((time.perf_counter(), time.thread_time()))
    )

    speech = utterance()
    for _ in range(turns):
        io.push_audio(speech)
        io.push_silence(2.0)
    io.end_input()
    loop = asyncio.get_running_loop()
    cpu0, audio0 = time.process_time(), loop.time()
    await session.wait_closed()
    cpu = time.process_time() - cpu0
    audio_seconds = loop.time() - audio0

    n = min(len(eot), len(first_frame))
    if n != turns:
        print(f"# warning: {len(eot)} end-of-turn decisions and {len(first_frame)} replies for {turns} turns")
    lat = [(first_frame[i][0] - eot[i][0]) * 1000 for i in range(n)]
    # the same span in CPU time of this thread: what the framework itself spent, whatever the machine load
    lat_cpu = [(first_frame[i][1] - eot[i][1]) * 1000 for i in range(n)]
    cpu_pct = cpu / audio_seconds * 100
    print(f"# vad={vad_name} turns={n} audio={audio_seconds:.0f}s cpu={cpu:.2f}s")
    print(
        f"RESULT turn_overhead p50_ms={percentile(lat, 50):.3f} p95_ms={percentile(lat, 95):.3f} "
        f"max_ms={max(lat):.3f} cpu_p50_ms={percentile(lat_cpu, 50):.3f} cpu_p95_ms={percentile(lat_cpu, 95):.3f} "
        f"cpu_pct_per_session={cpu_pct:.3f} vad={vad_name} turns={n}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--turns", type=int, default=200)
    parser.add_argument("--vad", choices=["silero", "webrtc", "energy"], default="silero")
    args = parser.parse_args()
    run_virtual(run(args.turns, args.vad))


if __name__ == "__main__":
    main()
