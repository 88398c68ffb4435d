"""End of speech → final transcript with PocketSphinx: per segment vs streaming, on the same clips.

Ten espeak-ng sentences (the same samples on every run, 16 kHz). For each clip and mode, the clip is "spoken" in 20 ms frames
paced in real time, as a microphone would deliver it; the clock starts when its last frame is in
(the end of speech) and stops when the final transcript arrives:

- ``segment``: ``recognize()`` on the whole clip once it has been spoken (what the pipeline does
  without streaming, after the VAD's end of speech);
- ``stream``: ``stream()`` with the default ``stream_final="exact"`` (the final is decoded again
  exactly as ``recognize`` would; the live pass only gives interims);
- ``live``: ``stream(stream_final="live")``: the live pass's own final.

Also: word error rate of each mode against the sentence, CPU ms per second of audio, the first
interim's delay after the start of speech, and the event-loop stalls while streams run (a 2 ms
sleep watcher; p95 and max of how late it woke up). Loops are bounded (``--repeat`` passes).
Last line: ``RESULT stt_streaming segment_p50_ms=... stream_p50_ms=... loop_stall_p95_ms=...``

Usage: ``python bench/stt_streaming.py [--repeat 1]``
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from local_providers import SENTENCES

from livekitex_agent.media import AudioFrame, read_wav, resample
from livekitex_agent.metrics import percentile
from livekitex_agent.plugins import local
from livekitex_agent.providers import SpeechEventType

FRAME = 0.02


@dataclass
class Mode:
    name: str
    latencies: list[float] = field(default_factory=list)  # end of speech → final, seconds
    first_interims: list[float] = field(default_factory=list)  # start of speech → first interim
    errors: int = 0
    words: int = 0
    cpu: float = 0.0
    audio: float = 0.0

    def line(self) -> str:
        p50, p95 = percentile(self.latencies, 50) * 1000, percentile(self.latencies, 95) * 1000
        out = f"{self.name:8} final p50 {p50:6.0f} ms  p95 {p95:6.0f} ms  WER {self.wer:5.1%}  "
        out += f"CPU {self.cpu / self.audio * 1000:5.0f} ms/s"
        if self.first_interims:
            out += (
                f"  first interim p50 {percentile(self.first_interims, 50) * 1000:4.0f} ms after speech start"
            )
        return out

    @property
    def wer(self) -> float:
        return self.errors / max(1, self.words)


def word_errors(reference: str, hypothesis: str) -> int:
    """Levenshtein distance over words."""
    ref, hyp = reference.split(), hypothesis.split()
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[-1]


def espeak_clips(sentences: list[str]) -> list[AudioFrame]:
    """Each sentence spoken by espeak-ng into a WAV file, resampled to 16 kHz in one go (the same
    samples on every run: PocketSphinx is sensitive to the smallest change)."""
    clips = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, sentence in enumerate(sentences):
            path = Path(tmp) / f"{i}.wav"
            subprocess.run(["espeak-ng", "-v", "en-us", "-w", str(path), sentence], check=True, timeout=30)
            clips.append(resample(read_wav(path), 16000))
    return clips


def frames_of(clip: AudioFrame) -> list[AudioFrame]:
    n = round(FRAME * clip.sample_rate)
    return [AudioFrame(clip.data[i : i + n], clip.sample_rate) for i in range(0, clip.samples_per_channel, n)]


async def speak(frames: list[AudioFrame], push: object = None) -> None:
    """Deliver ``frames`` on a real-time schedule (to ``push`` if given)."""
    start = time.perf_counter()
    for i, frame in enumerate(frames):
        if callable(push):
            push(frame)
        delay = start + (i + 1) * FRAME - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)


async def run_segment(stt: local.PocketSphinxSTT, clip: AudioFrame, mode: Mode) -> str:
    frames = frames_of(clip)
    await speak(frames)
    cpu0, t0 = time.process_time(), time.perf_counter()
    text = (await stt.recognize(frames)).text
    mode.latencies.append(time.perf_counter() - t0)
    mode.cpu += time.process_time() - cpu0
    return text


async def run_stream(stt: local.PocketSphinxSTT, clip: AudioFrame, mode: Mode) -> str:
    stream = stt.stream()
    final = ""
    started = time.perf_counter()
    ended = 0.0
    first_interim: float | None = None

    async def read() -> None:
        nonlocal final, ended, first_interim
        async for event in stream:
            if event.type is SpeechEventType.INTERIM_TRANSCRIPT and first_interim is None:
                first_interim = time.perf_counter() - started
            elif event.type is SpeechEventType.FINAL_TRANSCRIPT:
                final, ended = event.text, time.perf_counter()

    cpu0 = time.process_time()
    reader = asyncio.create_task(read())
    await speak(frames_of(clip), stream.push_frame)
    t0 = time.perf_counter()
    stream.end_input()
    await asyncio.wait_for(reader, 60)
    await stream.aclose()
    mode.cpu += time.process_time() - cpu0
    mode.latencies.append(ended - t0)
    if first_interim is not None:
        mode.first_interims.append(first_interim)
    return final


async def main(repeat: int) -> None:
    clips = espeak_clips(SENTENCES)
    seconds = sum(c.duration for c in clips)
    print(
        f"# corpus: {len(clips)} sentences, {seconds:.1f} s of audio, {repeat} pass(es), 20 ms frames in real time"
    )
    stalls: list[float] = []
    stop = asyncio.Event()

    async def watch() -> None:
        while not stop.is_set():
            t = time.perf_counter()
            await asyncio.sleep(0.002)
            stalls.append(max(0.0, time.perf_counter() - t - 0.002))

    modes: list[Mode] = []
    for name, final in (("segment", "exact"), ("stream", "exact"), ("live", "live")):
        stt = local.PocketSphinxSTT(max_decoders=1, stream_final=final)  # type: ignore[arg-type]
        stt.prewarm()
        mode = Mode(name)
        watcher = asyncio.create_task(watch()) if name != "segment" else None
        for _ in range(repeat):
            for sentence, clip in zip(SENTENCES, clips, strict=True):
                run = run_segment if name == "segment" else run_stream
                text = await run(stt, clip, mode)
                mode.errors += word_errors(sentence, text)
                mode.words += len(sentence.split())
                mode.audio += clip.duration
        if watcher is not None:
            stop.set()
            await watcher
            stop.clear()
        await stt.aclose()
        modes.append(mode)
        print(mode.line())
    stall_p95 = percentile(stalls, 95) * 1000
    print(f"event-loop stalls while streaming: p95 {stall_p95:.1f} ms, max {max(stalls) * 1000:.1f} ms")
    segment, stream, live = modes
    print(
        f"RESULT stt_streaming segment_p50_ms={percentile(segment.latencies, 50) * 1000:.0f} "
        f"stream_p50_ms={percentile(stream.latencies, 50) * 1000:.0f} "
        f"live_p50_ms={percentile(live.latencies, 50) * 1000:.0f} "
        f"loop_stall_p95_ms={stall_p95:.1f} loop_stall_max_ms={max(stalls) * 1000:.1f} "
        f"segment_wer={segment.wer:.3f} stream_wer={stream.wer:.3f} live_wer={live.wer:.3f} "
        f"first_interim_p50_ms={percentile(stream.first_interims, 50) * 1000:.0f}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=1, choices=range(1, 6), metavar="1-5")
    asyncio.run(main(parser.parse_args().repeat))
