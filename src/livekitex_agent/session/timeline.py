"""Where each sentence sits in the agent's audio, to sync transcriptions and to cut off unheard text."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class TextSegment:
    text: str
    start: float  # seconds from the start of the speech's audio
    duration: float = 0.0
    step: int = 0  # which LLM step (assistant message) the text belongs to


class SpeechTimeline:
    """Sentences and the audio synthesized for them, in playout order."""

    def __init__(self) -> None:
        self.segments: list[TextSegment] = []
        self.audio_written = 0.0

    def begin_text(self, text: str, step: int) -> TextSegment:
        seg = TextSegment(text=text, start=self.audio_written, step=step)
        self.segments.append(seg)
        return seg

    def add_audio(self, duration: float) -> None:
        self.audio_written += duration
        if self.segments:
            self.segments[-1].duration += duration

    def text_of(self, step: int) -> str:
        return " ".join(s.text for s in self.segments if s.step == step)

    def heard_text(self, position: float, step: int) -> str:
        """The part of ``step``'s text the user heard when playout stopped at ``position`` seconds.

        Whole sentences that finished playing are kept; the sentence being played is cut at the word
        reached in proportion to the time played.
        """
        words: list[str] = []
        for seg in self.segments:
            if seg.step != step or seg.start >= position:
                continue
            if seg.duration <= 0 or seg.start + seg.duration <= position + 1e-6:
                words.extend(seg.text.split())
                continue
            seg_words = seg.text.split()
            fraction = (position - seg.start) / seg.duration
            words.extend(seg_words[: int(len(seg_words) * fraction)])
        return " ".join(words)
