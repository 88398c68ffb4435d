"""The turn-taking corpus: spoken requests built with espeak-ng, with known pauses and ends.

Each utterance is synthesized once as a whole sentence (so its intonation runs on across the
hesitations) with an SSML ``<break>`` of exactly ``MARK`` seconds at each hesitation point ("|" in
the manifest). espeak-ng writes those breaks as runs of (near) zeros; the generator finds them and
splices in the clip's pause (300–1,500 ms). The ground truth therefore comes from construction:
pause positions, and the true end of speech (espeak's last sample above ±2), never from a VAD.

Clips are 16 kHz mono int16 with a faint deterministic noise floor (-66 dBFS), 0.4 s of lead
silence and 3.5 s of trailing silence, cached as WAV under ``.tools/cache/turn-corpus`` (the
manifest, the voices and the espeak-ng version key the cache), so only the first run synthesizes.

Categories: ``clean`` (ends cleanly), ``paused`` (mid-turn hesitations), ``filler`` (ends on a
trailing filler), ``question`` (ends on a question).

Splits: ``tune`` (``MANIFEST`` in ``VOICES``: the clips the decision policy was tuned on) and
``heldout`` (``HELDOUT_MANIFEST``, other sentences, in ``HELDOUT_VOICES``, other voices and rates,
written before the policy was measured on them, never tuned on). ``turn_corpus_recorded.py`` adds
recorded human speech, also held out.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import shutil
import subprocess
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from livekitex_agent.media import AudioFrame, resample

RATE = 16000
ESPEAK_RATE = 22050
_QUIET = 2  # espeak-ng's breaks are exact zeros, or ±1 in the breathy voice variants
MARK = 1.5  # seconds of the SSML break that marks a hesitation point
LEAD = 0.4
TRAIL = 3.5

# (category, text); "|" marks a hesitation point
MANIFEST: tuple[tuple[str, str], ...] = (
    ("paused", "I'd like to book a table for | four people"),
    ("paused", "my number is five five five | one two three four"),
    ("paused", "I would like to | change my reservation"),
    ("paused", "can you tell me | what time you open tomorrow"),
    ("paused", "I need a flight to | Boston on Friday morning"),
    ("paused", "the order number is seven eight two | nine four"),
    ("paused", "I was wondering if | you could help me with my bill"),
    ("paused", "please send it to | my office address"),
    ("paused", "it is a present for my | daughter's birthday"),
    ("paused", "we will be arriving on | the fifteenth of March | around noon"),
    ("paused", "so what I need is | a room with two beds"),
    ("paused", "the problem is that | my card was charged twice"),
    ("clean", "what is the weather like in Paris today"),
    ("clean", "please cancel my subscription"),
    ("clean", "thank you that is all I needed"),
    ("clean", "I want to speak to a manager"),
    ("question", "can you book it for tomorrow?"),
    ("question", "do you have any tables left tonight?"),
    ("question", "is the pharmacy open on Sunday?"),
    ("filler", "I think that is everything um"),
    ("filler", "yes that works for me uh"),
)
VOICES: tuple[tuple[str, int], ...] = (("en-us", 165), ("en-gb", 150), ("en-us+f2", 185))
HELDOUT_MANIFEST: tuple[tuple[str, str], ...] = (
    ("paused", "can I pay | by card or only in cash"),
    ("paused", "my name is | Sarah Johnson"),
    ("paused", "I'd like the salmon | and a glass of white wine"),
    ("paused", "the address is twelve | Oak Street"),
    ("paused", "we need it delivered by | Thursday afternoon"),
    ("paused", "I am calling because | my internet stopped working"),
    ("paused", "could you check if there is | a parking space"),
    ("paused", "the booking should be under | Martinez"),
    ("paused", "the code on the back is four | two seven"),
    ("paused", "I ordered the blue one | but I got a red one"),
    ("clean", "I would like to pay my bill"),
    ("clean", "that sounds perfect thank you"),
    ("clean", "please put me through to billing"),
    ("question", "how much does the delivery cost?"),
    ("question", "what time do you close tonight?"),
    ("filler", "I think we are done uh"),
)
HELDOUT_VOICES: tuple[tuple[str, int], ...] = (("en-us+m3", 175), ("en-gb-x-rp", 140), ("en-029+f4", 160))
# cycled over the hesitation points of the corpus: most in 0.6–1.5 s, where silence alone fails
PAUSES: tuple[float, ...] = (0.6, 1.0, 0.3, 1.3, 0.8, 1.5, 0.45, 1.1, 0.7, 1.4, 0.9, 1.2)


@dataclass(frozen=True)
class Clip:
    """One utterance with its ground truth (seconds from the clip's first sample)."""

    id: str
    category: str
    voice: str
    rate: int
    parts: tuple[str, ...]  # the words between hesitation points
    part_ends: tuple[float, ...]  # when each part's speech ends (the last one is the true end)
    pauses: tuple[tuple[float, float], ...]  # (start, end) of each mid-turn pause
    audio: AudioFrame
    split: str = "tune"  # tune | heldout | recorded (see the module docstring)

    @property
    def text(self) -> str:
        return " ".join(self.parts)

    @property
    def speech_end(self) -> float:
        return self.part_ends[-1]


def cache_dir() -> Path:
    return Path(__file__).resolve().parent.parent / ".tools" / "cache" / "turn-corpus"


def _espeak_version() -> str:
    out = subprocess.run(["espeak-ng", "--version"], capture_output=True, text=True, check=True)
    return out.stdout.strip()


def _synthesize(text: str, voice: str, rate: int) -> np.ndarray:
    ssml = text.replace("|", f'<break time="{round(MARK * 1000)}ms"/>').replace("?", "?")
    wav = subprocess.run(
        ["espeak-ng", "-m", "-v", voice, "-s", str(rate), "--stdout", f"<speak>{ssml}</speak>"],
        check=True,
        capture_output=True,
    ).stdout
    with wave.open(io.BytesIO(wav)) as w:
        if w.getframerate() != ESPEAK_RATE or w.getnchannels() != 1:
            raise RuntimeError(
                f"espeak-ng wrote {w.getframerate()} Hz x{w.getnchannels()}, expected mono 22050"
            )
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.int16)


def _zero_runs(x: np.ndarray, min_len: int) -> list[tuple[int, int]]:
    z = np.concatenate(([0], (np.abs(x) <= _QUIET).astype(np.int8), [0]))
    d = np.diff(z)
    starts, ends = np.flatnonzero(d == 1), np.flatnonzero(d == -1)
    return [(int(s), int(e)) for s, e in zip(starts, ends, strict=True) if e - s >= min_len]


def build_clip(clip_id: str, category: str, text: str, voice: str, rate: int, pauses: list[float]) -> Clip:
    raw = _synthesize(text, voice, rate)
    nz = np.flatnonzero(np.abs(raw) > _QUIET)
    raw = raw[nz[0] : nz[-1] + 1]  # speech from its first to its last sample
    marks = _zero_runs(raw, round(0.45 * MARK * ESPEAK_RATE))  # espeak-ng shortens breaks at fast rates
    n_marks = text.count("|")
    if len(marks) != n_marks:
        raise RuntimeError(
            f"{clip_id}: found {len(marks)} break marks in espeak's output, expected {n_marks}"
        )
    pieces: list[np.ndarray] = []
    part_ends: list[float] = []
    spans: list[tuple[float, float]] = []
    t = LEAD
    pos = 0
    for (s, e), pause in zip(marks, pauses, strict=True):
        pieces.append(raw[pos:s])
        t += (s - pos) / ESPEAK_RATE
        part_ends.append(t)
        pieces.append(np.zeros(round(pause * ESPEAK_RATE), dtype=np.int16))
        spans.append((t, t + pause))
        t += pause
        pos = e
    pieces.append(raw[pos:])
    t += (raw.size - pos) / ESPEAK_RATE
    part_ends.append(t)
    speech = resample(AudioFrame(np.concatenate(pieces), ESPEAK_RATE), RATE).data.astype(np.float32)
    parts = tuple(p.strip() for p in text.replace("?", "").split("|"))
    audio = on_noise_floor(clip_id, speech)
    return Clip(clip_id, category, voice, rate, parts, tuple(part_ends), tuple(spans), audio)


def on_noise_floor(clip_id: str, speech: np.ndarray) -> AudioFrame:
    """``speech`` (16 kHz float, int16 scale) after ``LEAD`` and before ``TRAIL`` seconds of a faint
    noise floor (-66 dBFS, seeded by the clip's id), as int16."""
    lead, trail = round(LEAD * RATE), round(TRAIL * RATE)
    total = lead + speech.size + trail
    seed = int(hashlib.sha1(clip_id.encode()).hexdigest()[:8], 16)
    noise = np.random.default_rng(seed).normal(0.0, 32768 * 10 ** (-66 / 20), total).astype(np.float32)
    noise[lead : lead + speech.size] += speech
    return AudioFrame(np.clip(noise, -32768, 32767).astype(np.int16), RATE)


def read_wav(path: Path) -> AudioFrame:
    with wave.open(str(path)) as w:
        return AudioFrame(np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.int16), RATE)


def write_wav(path: Path, frame: AudioFrame) -> None:
    tmp = path.with_suffix(".tmp")
    with wave.open(str(tmp), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(frame.data.astype("<i2").tobytes())
    tmp.replace(path)


def load_corpus(*, limit: int | None = None, heldout: bool = False) -> list[Clip]:
    """Every clip of the manifest in every voice (built once, then read from the cache); with
    ``heldout``, the held-out sentences in the held-out voices after them."""
    if shutil.which("espeak-ng") is None:
        raise RuntimeError(
            "the turn-taking corpus needs espeak-ng: run scripts/setup.sh (apt-get install espeak-ng)"
        )
    parts = [("tune", MANIFEST, VOICES, 0)]
    if heldout:
        parts.append(("heldout", HELDOUT_MANIFEST, HELDOUT_VOICES, 7))
    clips: list[Clip] = []
    for split, manifest, voices, first_pause in parts:
        clips += _load_split(split, manifest, voices, first_pause)
    return clips[:limit] if limit is not None else clips


def _load_split(
    split: str, manifest: tuple[tuple[str, str], ...], voices: tuple[tuple[str, int], ...], pause_i: int
) -> list[Clip]:
    key = hashlib.sha1(
        json.dumps([manifest, voices, PAUSES, MARK, LEAD, TRAIL, _espeak_version()]).encode()
    ).hexdigest()[:12]
    folder = cache_dir() / key
    folder.mkdir(parents=True, exist_ok=True)
    prefix = "" if split == "tune" else "h"
    clips: list[Clip] = []
    for n, (category, text) in enumerate(manifest):
        for voice, rate in voices:
            pauses = [PAUSES[(pause_i + k) % len(PAUSES)] for k in range(text.count("|"))]
            pause_i += text.count("|")
            clip_id = f"{prefix}{n:02d}-{voice.replace('+', '_')}-{rate}"
            wav, meta = folder / f"{clip_id}.wav", folder / f"{clip_id}.json"
            if wav.exists() and meta.exists():
                m = json.loads(meta.read_text())
                clip = Clip(
                    clip_id,
                    category,
                    voice,
                    rate,
                    tuple(m["parts"]),
                    tuple(m["part_ends"]),
                    tuple(tuple(p) for p in m["pauses"]),  # type: ignore[misc]
                    read_wav(wav),
                    split,
                )
            else:
                clip = build_clip(clip_id, category, text, voice, rate, pauses)
                clip = dataclasses.replace(clip, split=split)
                write_wav(wav, clip.audio)
                meta.write_text(
                    json.dumps({"parts": clip.parts, "part_ends": clip.part_ends, "pauses": clip.pauses})
                )
            clips.append(clip)
    return clips


if __name__ == "__main__":
    for c in load_corpus(heldout=True):
        pauses = ", ".join(f"{b - a:.2f}s" for a, b in c.pauses)
        print(f"{c.id:<22} {c.category:<9} end={c.speech_end:.2f}s pauses=[{pauses}] {c.text}")
