"""CPU cost of the offline providers, per second of audio they handle.

A small corpus of English sentences is synthesized with espeak-ng, then:

- espeak: CPU of the espeak-ng processes (children rusage) plus ours (reading, resampling),
  per second of audio produced;
- silero / webrtc: process CPU to push the corpus (16 kHz, 20 ms frames) through one VAD stream;
- sphinx: process CPU (all threads) to recognize every sentence with the language model, and
  ``sphinx_phrase``: with a phrase list where every sentence is one of the phrases;
- sphinx_loop_stall_ms: the longest event-loop stall seen while decoding (PocketSphinx holds the
  GIL per 20 ms piece of audio).

Every loop is bounded (``--repeat`` passes over ten sentences). Last line:
``RESULT local_providers silero_ms_per_s=... webrtc_ms_per_s=... sphinx_ms_per_s=... espeak_ms_per_s=...``

Usage: ``python bench/local_providers.py [--repeat 2]``
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import time

from livekitex_agent.media import AudioFrame, combine_frames
from livekitex_agent.plugins import local
from livekitex_agent.providers import VAD

SENTENCES = [
    "what is the weather in paris",
    "book a table for two at seven",
    "cancel my reservation",
    "turn on the kitchen lights",
    "play some jazz music",
    "set an alarm for six thirty",
    "hello how are you today",
    "i would like to order a pizza",
    "the quick brown fox jumps over the lazy dog",
    "please call me back tomorrow morning",
]


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


async def bench_espeak(repeat: int) -> tuple[float, list[AudioFrame]]:
    tts = local.EspeakTTS(sample_rate=16000)
    clips: list[AudioFrame] = []
    audio = 0.0
    cpu0, child0 = time.process_time(), _children_cpu()
    for _ in range(repeat):
        clips = []
        for text in SENTENCES:
            async with tts.synthesize(text) as stream:
                frames = [f async for f in stream]
            clip = combine_frames(frames)
            clips.append(clip)
            audio += clip.duration
    cpu = (time.process_time() - cpu0) + (_children_cpu() - child0)
    return cpu / audio * 1000.0, clips


def bench_vad(vad: VAD, clips: list[AudioFrame], repeat: int) -> float:
    corpus = combine_frames(clips)
    step = corpus.sample_rate // 50
    pieces = [
        AudioFrame(corpus.data[i : i + step], corpus.sample_rate) for i in range(0, len(corpus.data), step)
    ]
    cpu0 = time.process_time()
    for _ in range(repeat):
        stream = vad.stream()
        for piece in pieces:
            stream.push_frame(piece)
        stream.flush()
        stream.close()
    return (time.process_time() - cpu0) / (corpus.duration * repeat) * 1000.0


async def bench_sphinx(
    stt: local.PocketSphinxSTT, clips: list[AudioFrame], repeat: int
) -> tuple[float, float]:
    """(CPU ms per s of audio, longest loop stall in ms): CPU is measured without the stall watcher."""
    stt.prewarm()
    audio = 0.0
    cpu0 = time.process_time()
    for _ in range(repeat):
        for clip in clips:
            await stt.recognize([clip])
            audio += clip.duration
    cpu_ms = (time.process_time() - cpu0) / audio * 1000.0

    stall = 0.0
    stop = asyncio.Event()

    async def watch() -> None:
        nonlocal stall
        while not stop.is_set():
            t = time.perf_counter()
            await asyncio.sleep(0.002)
            stall = max(stall, time.perf_counter() - t - 0.002)

    watcher = asyncio.create_task(watch())
    try:
        for clip in clips:
            await stt.recognize([clip])
    finally:
        stop.set()
        await watcher
        await stt.aclose()
    return cpu_ms, stall * 1000.0


async def main(repeat: int) -> None:
    espeak_ms, clips = await bench_espeak(repeat)
    seconds = sum(c.duration for c in clips)
    print(f"# corpus: {len(clips)} sentences, {seconds:.1f} s of audio, {repeat} pass(es)")
    print(f"espeak-ng TTS          {espeak_ms:7.1f} ms CPU per s of audio")
    silero_ms = bench_vad(local.SileroVAD(), clips, repeat)
    print(f"Silero VAD             {silero_ms:7.1f} ms CPU per s of audio")
    webrtc_ms = bench_vad(local.WebRTCVAD(), clips, repeat)
    print(f"WebRTC VAD             {webrtc_ms:7.1f} ms CPU per s of audio")
    sphinx_ms, stall_lm = await bench_sphinx(local.PocketSphinxSTT(max_decoders=1), clips, repeat)
    print(f"PocketSphinx (LM)      {sphinx_ms:7.1f} ms CPU per s of audio, loop stall max {stall_lm:.1f} ms")
    phrase_ms, stall_ph = await bench_sphinx(
        local.PocketSphinxSTT(phrases=SENTENCES, max_decoders=1), clips, repeat
    )
    print(f"PocketSphinx (phrases) {phrase_ms:7.1f} ms CPU per s of audio, loop stall max {stall_ph:.1f} ms")
    print(
        f"RESULT local_providers silero_ms_per_s={silero_ms:.2f} webrtc_ms_per_s={webrtc_ms:.2f} "
        f"sphinx_ms_per_s={sphinx_ms:.1f} espeak_ms_per_s={espeak_ms:.1f} "
        f"sphinx_phrase_ms_per_s={phrase_ms:.1f} sphinx_loop_stall_ms={max(stall_lm, stall_ph):.1f}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=2, choices=range(1, 11), metavar="1-10")
    asyncio.run(main(parser.parse_args().repeat))
