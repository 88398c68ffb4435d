"""What the RNNoise input filter buys on noisy speech: VAD false starts and STT word errors.

espeak-ng speaks a few sentences (the user), separated by pauses, after two seconds of noise
alone. Noise made in numpy — white, pink (1/f), and babble (five other espeak-ng voices talking
at once) — is mixed in at 20, 10, 5 and 0 dB SNR (speech power over its voiced 20 ms frames).
Each mix goes, at the room's 48 kHz, to:

- Silero VAD (16 kHz, the session's defaults): a *false start* is a start of speech that is not
  within 0.3 s of a sentence, and ``vad_noise_speech_s`` the seconds of noise alone that fell
  inside speech segments (a VAD that never ends on noise makes one false start but many seconds);
  the same for WebRTC VAD, aggressiveness 2 (``webrtc_*`` keys);
- PocketSphinx (language model, no phrase list) on each sentence's span (± 0.25 s): word error
  rate against the sentence's text, over all sentences and noise kinds;

once as it is and once through ``RNNoiseFilter`` (20 ms frames, as the session feeds it).
One line per SNR:
``RESULT noise_filter snr_db=… vad_false_starts=… vad_false_starts_filtered=… wer=… wer_filtered=…``
(false starts summed over the three noise kinds; WER pooled). Per-kind numbers go before them.

Usage: ``python bench/noise_filter.py [--sentences 5] [--snr 20 10 5 0]``
"""

from __future__ import annotations

import argparse
import asyncio
import time
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from livekitex_agent.media import AudioFrame, combine_frames, resample
from livekitex_agent.plugins import local
from livekitex_agent.providers.vad import VAD, VADEventType

RATE = 48000
SENTENCES = [
    "what is the weather in paris",
    "book a table for two at seven",
    "cancel my reservation",
    "turn on the kitchen lights",
    "please call me back tomorrow morning",
    "i would like to order a pizza",
]
BABBLE = [
    ("the meeting has been moved to thursday afternoon", "en-gb", 40),
    ("can you pass me the salt and pepper please", "en-us", 70),
    ("we should leave early to avoid the traffic", "en-gb-scotland", 55),
    ("i think the train was late again this morning", "en-029", 35),
    ("did anyone see where i left my keys", "en-us", 85),
]
LEAD, GAP = 2.0, 1.5  # seconds of noise alone before the first sentence, and between sentences
Float = npt.NDArray[np.float64]


@dataclass
class Track:
    speech: Float  # the clean user speech, float samples at RATE
    spans: list[tuple[float, float]]  # each sentence's (start, end) in seconds
    texts: list[str]


async def _clip(text: str, voice: str = "en-us", pitch: int = 50) -> Float:
    frame = await local.synthesize_to_frame(text, voice=voice, pitch=pitch, sample_rate=RATE)
    data = frame.data.astype(np.float64)
    loud = np.flatnonzero(np.abs(data) > 100)
    return data[loud[0] : loud[-1] + 1]  # the words, without espeak's silence around them


async def make_track(texts: list[str]) -> Track:
    parts: list[Float] = [np.zeros(round(LEAD * RATE))]
    spans, t = [], LEAD
    for text in texts:
        clip = await _clip(text)
        parts += [clip, np.zeros(round(GAP * RATE))]
        spans.append((t, t + clip.size / RATE))
        t += clip.size / RATE + GAP
    return Track(np.concatenate(parts), spans, texts)


def white(n: int, rng: np.random.Generator) -> Float:
    return rng.standard_normal(n)


def pink(n: int, rng: np.random.Generator) -> Float:
    spectrum = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1 / RATE)
    spectrum[1:] /= np.sqrt(f[1:])
    spectrum[0] = 0
    return np.fft.irfft(spectrum, n)


async def make_babble(n: int) -> Float:
    voices = [await _clip(text, voice, pitch) for text, voice, pitch in BABBLE]
    out = np.zeros(n)
    for i, v in enumerate(voices):
        v = v / np.sqrt(np.mean(v**2))
        offset = round(i * 0.37 * RATE)
        reps = np.tile(np.concatenate([v, np.zeros(round(0.2 * RATE))]), n // v.size + 2)
        out += reps[offset : offset + n]
    return out


def voiced_power(x: Float) -> float:
    frames = x[: x.size // 960 * 960].reshape(-1, 960)
    power = np.mean(frames**2, axis=1)
    return float(np.mean(power[power > (32768 * 10 ** (-50 / 20)) ** 2]))


def mix(track: Track, noise: Float, snr_db: float) -> AudioFrame:
    scale = np.sqrt(voiced_power(track.speech) / 10 ** (snr_db / 10) / np.mean(noise**2))
    x = track.speech + noise * scale
    return AudioFrame(np.clip(x, -32768, 32767).astype(np.int16), RATE)


def denoise(audio: AudioFrame) -> AudioFrame:
    filt = local.RNNoiseFilter()
    try:
        n = RATE // 50
        out = [o for i in range(0, audio.data.size, n) if (o := filt.process(AudioFrame(audio.data[i : i + n], RATE)))]
        if (rest := filt.flush()) is not None:
            out.append(rest)
    finally:
        filt.close()
    return combine_frames(out)


def false_starts(vad: VAD, audio16: AudioFrame, spans: list[tuple[float, float]]) -> tuple[int, float]:
    """(starts of speech not within 0.3 s of a sentence, seconds of noise alone taken as speech)."""
    stream = vad.stream()
    n, count, start = 320, 0, None
    segments: list[tuple[float, float]] = []
    try:
        events = [e for i in range(0, audio16.data.size, n) for e in stream.push_frame(AudioFrame(audio16.data[i : i + n], 16000))]
        events += list(stream.flush())
    finally:
        stream.close()
    for e in events:
        if e.type is VADEventType.START_OF_SPEECH:
            start = e.timestamp
            count += not any(a - 0.3 <= e.timestamp <= b + 0.3 for a, b in spans)
        elif e.type is VADEventType.END_OF_SPEECH and start is not None:
            segments.append((start, e.timestamp))
            start = None
    speech = sum(b - a for a, b in segments)
    overlap = sum(max(0.0, min(b, d + 0.3) - max(a, c - 0.3)) for a, b in segments for c, d in spans)
    return count, max(0.0, speech - overlap)


def word_errors(ref: str, hyp: str) -> int:
    r, h = ref.split(), hyp.lower().split()
    d = list(range(len(h) + 1))
    for i, rw in enumerate(r, 1):
        prev, d[0] = d[0], i
        for j, hw in enumerate(h, 1):
            prev, d[j] = d[j], min(d[j] + 1, d[j - 1] + 1, prev + (rw != hw))
    return d[len(h)]


async def errors(stt: local.PocketSphinxSTT, audio16: AudioFrame, track: Track) -> int:
    total = 0
    for (a, b), text in zip(track.spans, track.texts, strict=True):
        result = await stt.recognize([audio16.slice(max(0.0, a - 0.25), b + 0.25)])
        total += word_errors(text, result.text)
    return total


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sentences", type=int, default=5)
    parser.add_argument("--snr", type=float, nargs="+", default=[20.0, 10.0, 5.0, 0.0])
    args = parser.parse_args()
    started = time.perf_counter()
    track = await make_track(SENTENCES[: args.sentences])
    words = sum(len(t.split()) for t in track.texts)
    rng = np.random.default_rng(12)
    n = track.speech.size
    noises = {"white": white(n, rng), "pink": pink(n, rng), "babble": await make_babble(n)}
    vad, webrtc, stt = local.SileroVAD(), local.WebRTCVAD(aggressiveness=2), local.PocketSphinxSTT()
    clean16 = resample(AudioFrame(track.speech.astype(np.int16), RATE), 16000)
    clean_wer = await errors(stt, clean16, track) / words
    print(f"clean speech: wer={clean_wer:.3f} ({words} words, {len(track.texts)} sentences)")
    results = []
    for snr in args.snr:
        fs, wfs, errs = [0, 0], [0, 0], [0, 0]
        secs, wsecs = [0.0, 0.0], [0.0, 0.0]
        for kind, noise in noises.items():
            noisy = mix(track, noise, snr)
            per = []
            for i, audio in enumerate((noisy, denoise(noisy))):
                audio16 = resample(audio, 16000)
                (f, sec), (w, wsec) = false_starts(vad, audio16, track.spans), false_starts(webrtc, audio16, track.spans)
                e = await errors(stt, audio16, track)
                fs[i], wfs[i], errs[i] = fs[i] + f, wfs[i] + w, errs[i] + e
                secs[i], wsecs[i] = secs[i] + sec, wsecs[i] + wsec
                per.append(f"starts {f} ({sec:.1f} s) webrtc {w} ({wsec:.1f} s) wer {e / words:.3f}")
            print(f"  snr_db={snr:g} {kind:6s} {per[0]}  ->  filtered: {per[1]}")
        total = words * len(noises)
        results.append(
            f"RESULT noise_filter snr_db={snr:g} vad_false_starts={fs[0]} vad_false_starts_filtered={fs[1]} "
            f"wer={errs[0] / total:.3f} wer_filtered={errs[1] / total:.3f} "
            f"vad_noise_speech_s={secs[0]:.1f} vad_noise_speech_s_filtered={secs[1]:.1f} "
            f"webrtc_false_starts={wfs[0]} webrtc_false_starts_filtered={wfs[1]} "
            f"webrtc_noise_speech_s={wsecs[0]:.1f} webrtc_noise_speech_s_filtered={wsecs[1]:.1f}"
        )
    await stt.aclose()
    await vad.aclose()
    print(f"({time.perf_counter() - started:.0f} s)")
    for line in results:
        print(line)


if __name__ == "__main__":
    asyncio.run(main())
