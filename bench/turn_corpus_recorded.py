"""Recorded human speech for the turn-taking benchmark: the Asterisk voice prompts (Allison Smith).

Debian's ``asterisk-core-sounds-en-wav`` (CC-BY-SA-3.0; installed by
``scripts/install-speech-samples.sh``) holds ~570 studio recordings of one voice, 8 kHz: whole
sentences ("All circuits are busy now.") and the fragments an IVR joins ("you have" … "two" …
"new messages"), spoken with the intonation of a phrase that goes on. The corpus takes whole
sentences as turns that end cleanly (statements, questions), and joins fragments with spliced
pauses as turns that pause mid-way. The ground truth comes from construction: the fragments are
trimmed to their speech (10 ms frames above -55 dBFS), joined with 60 ms between words of one part
and the clip's pause between parts. Nothing is tuned on these clips: they are held out.

Clips are built at run time (16 kHz, the espeak corpus's noise floor, lead and tail) and cached
beside it; no audio is shipped in the repository.
"""

from __future__ import annotations

import hashlib
import json
import wave
from pathlib import Path

import numpy as np
from turn_corpus import LEAD, PAUSES, RATE, TRAIL, Clip, cache_dir, on_noise_floor, read_wav, write_wav

from livekitex_agent.media import AudioFrame, resample

SOUNDS = Path("/usr/share/asterisk/sounds/en_US_f_Allison")
INSTALL = "scripts/install-speech-samples.sh"
WORD_GAP = 0.06  # seconds between the words of one part
_FLOOR_DB = -55.0

# (category, parts); each part is a list of (prompt file, what it says); pauses go between parts
MANIFEST: tuple[tuple[str, tuple[tuple[tuple[str, str], ...], ...]], ...] = (
    (
        "paused",
        (
            (("vm-num-i-have", "the number I have is"),),
            (("digits/5", "five"), ("digits/5", "five"), ("digits/5", "five")),
            (("digits/1", "one"), ("digits/2", "two"), ("digits/3", "three"), ("digits/4", "four")),
        ),
    ),
    (
        "paused",
        (
            (("vm-youhave", "you have"),),
            (("digits/2", "two"), ("vm-INBOX", "new"), ("vm-messages", "messages")),
        ),
    ),
    (
        "paused",
        ((("if-correct-press", "if this is correct press"),), (("digits/1", "one"),)),
    ),
    (
        "paused",
        ((("num-was-successfully", "the number was successfully"),), (("added", "added"),)),
    ),
    (
        "paused",
        ((("vm-duration", "this message lasts"),), (("digits/3", "three"), ("vm-minutes", "minutes"))),
    ),
    (
        "paused",
        (
            (("vm-from-phonenumber", "message from phone number"),),
            (("digits/4", "four"), ("digits/1", "one"), ("digits/5", "five")),
        ),
    ),
    (
        "paused",
        ((("followme/call-from", "incoming call from"),), (("vm-unknown-caller", "an unknown caller"),)),
    ),
    (
        "paused",
        ((("vm-onefor", "press one for"),), (("vm-INBOX", "new"), ("vm-messages", "messages"))),
    ),
    (
        "paused",
        ((("to-call-this-number", "to call this number"),), (("vm-press", "press"), ("digits/1", "one"))),
    ),
    (
        "paused",
        (
            (("vm-theperson", "the person at extension"),),
            (("digits/2", "two"), ("digits/0", "zero"), ("digits/4", "four")),
            (("vm-isunavail", "is unavailable"),),
        ),
    ),
    (
        "paused",
        (
            (("at-tone-time-exactly", "at the sound of the tone the time will be exactly"),),
            (("digits/3", "three"), ("digits/oclock", "o'clock")),
        ),
    ),
    (
        "paused",
        ((("vm-savedto", "saved to"),), (("vm-Family", "family"),)),
    ),
    (
        "clean",
        ((("all-circuits-busy-now", "all circuits are busy now"),),),
    ),
    (
        "clean",
        ((("cannot-complete-as-dialed", "your call cannot be completed as dialed"),),),
    ),
    (
        "clean",
        ((("check-number-dial-again", "please check the number and dial again"),),),
    ),
    (
        "clean",
        ((("feature-not-avail-line", "that feature is not available on this line"),),),
    ),
    (
        "clean",
        ((("demo-echodone", "the echo test has been completed"),),),
    ),
    (
        "clean",
        ((("pls-hold-while-try", "please hold while we try to connect you"),),),
    ),
    (
        "clean",
        ((("number-not-answering", "the number is not answering"),),),
    ),
    (
        "clean",
        ((("please-try-call-later", "please try your call again later"),),),
    ),
    (
        "clean",
        ((("vm-msgsaved", "your message has been saved"),),),
    ),
    (
        "clean",
        ((("sorry-youre-having-problems", "sorry you're having problems"),),),
    ),
    (
        "clean",
        ((("tt-weasels", "weasels have eaten our phone system"),),),
    ),
    (
        "clean",
        ((("vm-nobodyavail", "nobody is available to take your call at the moment"),),),
    ),
    (
        "clean",
        ((("vm-nonumber", "I'm afraid I don't know who sent this message"),),),
    ),
    (
        "clean",
        ((("vm-tooshort", "your message is too short"),),),
    ),
    (
        "clean",
        ((("one-moment-please", "one moment please"),),),
    ),
    (
        "question",
        ((("vm-changeto", "change to which folder"),),),
    ),
    (
        "question",
        ((("vm-login", "comedian mail mailbox"),),),
    ),
)


def available() -> bool:
    return SOUNDS.is_dir()


def _prompt(name: str) -> np.ndarray:
    """The prompt's speech, trimmed to its first and last 10 ms above the floor, float at 16 kHz."""
    path = SOUNDS / f"{name}.wav"
    with wave.open(str(path)) as w:
        rate = w.getframerate()
        x = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.int16)
    hop = rate // 100
    frames = x[: x.size // hop * hop].astype(np.float32).reshape(-1, hop)
    db = 20 * np.log10(np.sqrt((frames**2).mean(axis=1)) / 32768 + 1e-9)
    loud = np.flatnonzero(db > _FLOOR_DB)
    x = x[loud[0] * hop : (loud[-1] + 1) * hop]
    return resample(AudioFrame(x, rate), RATE).data.astype(np.float32)


def _build(
    clip_id: str, category: str, parts: tuple[tuple[tuple[str, str], ...], ...], pauses: list[float]
) -> Clip:
    gap = np.zeros(round(WORD_GAP * RATE), dtype=np.float32)
    pieces: list[np.ndarray] = []
    part_ends: list[float] = []
    spans: list[tuple[float, float]] = []
    t = LEAD
    for i, part in enumerate(parts):
        for j, (name, _) in enumerate(part):
            if j:
                pieces.append(gap)
            pieces.append(_prompt(name))
        t = LEAD + sum(p.size for p in pieces) / RATE
        part_ends.append(t)
        if i < len(pauses):
            pieces.append(np.zeros(round(pauses[i] * RATE), dtype=np.float32))
            spans.append((t, t + pauses[i]))
    audio = on_noise_floor(clip_id, np.concatenate(pieces))
    texts = tuple(" ".join(said for _, said in part) for part in parts)
    return Clip(
        clip_id, category, "allison", 0, texts, tuple(part_ends), tuple(spans), audio, split="recorded"
    )


def load_recorded() -> list[Clip]:
    """Every clip of the manifest (built once from the installed prompts, then read from the cache)."""
    if not available():
        raise RuntimeError(
            f"the recorded part of the turn-taking corpus needs {SOUNDS}: run {INSTALL} "
            "(apt-get install asterisk-core-sounds-en-wav)"
        )
    key = hashlib.sha1(json.dumps([MANIFEST, PAUSES, WORD_GAP, LEAD, TRAIL, "v1"]).encode()).hexdigest()[:12]
    folder = cache_dir() / f"recorded-{key}"
    folder.mkdir(parents=True, exist_ok=True)
    clips: list[Clip] = []
    pause_i = 5  # not the espeak corpus's sequence of pauses
    for n, (category, parts) in enumerate(MANIFEST):
        pauses = [PAUSES[(pause_i + k) % len(PAUSES)] for k in range(len(parts) - 1)]
        pause_i += len(parts) - 1
        clip_id = f"rec{n:02d}-{parts[0][0][0].replace('/', '_')}"
        wav, meta = folder / f"{clip_id}.wav", folder / f"{clip_id}.json"
        if wav.exists() and meta.exists():
            m = json.loads(meta.read_text())
            texts = tuple(" ".join(said for _, said in part) for part in parts)
            spans = tuple((float(a), float(b)) for a, b in m["pauses"])
            clip = Clip(
                clip_id,
                category,
                "allison",
                0,
                texts,
                tuple(m["part_ends"]),
                spans,
                read_wav(wav),
                split="recorded",
            )
        else:
            clip = _build(clip_id, category, parts, pauses)
            write_wav(wav, clip.audio)
            meta.write_text(json.dumps({"part_ends": clip.part_ends, "pauses": clip.pauses}))
        clips.append(clip)
    return clips
