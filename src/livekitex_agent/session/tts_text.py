"""The text the TTS hears for a sentence the LLM wrote (the agent's or the session's transforms).

The history, the transcript and ``lk.transcription`` keep the sentence as written; only the TTS
gets :meth:`SpeakableText.__call__`'s result. A transform that fails is reported once (``error``,
recoverable) and the sentence is spoken as written: a bug in a user's transform never silences
the agent.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from ..text import TextTransformChain, TextTransformLike
from .options import SessionOptions


class SpeakingAgent(Protocol):
    @property
    def tts_text_transforms(self) -> Sequence[TextTransformLike] | None: ...


class SpeakingSession(Protocol):
    """What :meth:`SpeakableText.for_session` reads of a session."""

    options: SessionOptions
    language: str | None

    @property
    def current_agent(self) -> SpeakingAgent: ...

    def report_error(self, error: BaseException, *, source: str, recoverable: bool) -> None: ...


class SpeakableText:
    def __init__(
        self,
        agent_transforms: Sequence[TextTransformLike] | None,
        session_transforms: Sequence[TextTransformLike],
        *,
        language: str | None,
        report: Callable[[BaseException], None],
    ) -> None:
        chosen = session_transforms if agent_transforms is None else agent_transforms
        self._chain = TextTransformChain(chosen, language=language)
        self._report = report
        self._failed = False

    @classmethod
    def for_session(cls, session: SpeakingSession) -> SpeakableText:
        """The current agent's transforms, else the session's, in the session's language."""
        return cls(
            session.current_agent.tts_text_transforms,
            session.options.tts_text_transforms,
            language=session.language,
            report=lambda e: session.report_error(e, source="tts_text_transforms", recoverable=True),
        )

    def __call__(self, sentence: str) -> str:
        if not self._chain:
            return sentence
        try:
            return self._chain(sentence).strip()
        except Exception as e:
            if not self._failed:
                self._failed = True
                self._report(e)
            return sentence
