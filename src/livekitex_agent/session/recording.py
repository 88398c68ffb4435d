"""Session recording: the call in stereo, the transcript and every event, as files and as an object.

``AgentSession(record=RecordingOptions())`` turns it on (it is off by default). The recorder taps the
session's I/O, not its pipeline: the user's audio as it arrives (left channel) and the agent's voice
as it is played out (right channel: a mirror of the output that is paused, resumed and cleared with
it, so a reply the user barged into is cut where it stopped), both on the session's loop clock from
``session.start``. Every event becomes one JSON-ready record ``{"t", "type", ...payload}``; the
transcript is read from those records, so what redaction removes is gone from both.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import enum
import json
import logging
import os
import secrets
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..events import EVENT_NAMES
from ..log import redact as redact_secrets
from ..media.frame import AudioFrame
from ..media.io import AudioInput, AudioOutput, PacedAudioOutput, SessionIO
from ..media.mirror import MirroredAudioOutput
from ..media.stereo import TimedFrames, stereo_track
from ..media.wav import write_wav
from ..validation import check_bool, check_instance, check_int

logger = logging.getLogger("livekitex_agent.session")

RECORDINGS_DIR_ENV = "LIVEKITEX_RECORDINGS_DIR"  # where recordings go when RecordingOptions has no folder
DEFAULT_RECORDINGS_DIR = "recordings"

EventRecord = dict[str, Any]  # {"t": seconds since the session started, "type": event name, ...payload}
Redactor = Callable[[EventRecord], EventRecord | None]


@dataclass
class RecordingOptions:
    """What a session records, and where.

    Files go to ``folder`` (default: ``$LIVEKITEX_RECORDINGS_DIR``, else ``./recordings``, in a
    sub-folder per session named after its start time) when the session closes.
    """

    folder: str | Path | None = None  # the folder for this session's files (created); None: see above
    write: bool = True  # False: keep the recording in memory only, for session.report()
    audio: bool = True  # record the stereo call (False: only the transcript and the events)
    sample_rate: int = 24000  # of the stereo WAV
    # called with each event record before it is kept; return it (changed or not) or None to drop
    # it. Secrets (API keys, tokens) are replaced by *** before the hook sees the record.
    redact: Redactor | None = None

    def __post_init__(self) -> None:
        check_bool("RecordingOptions write", self.write)
        check_bool("RecordingOptions audio", self.audio)
        check_int("RecordingOptions sample_rate", self.sample_rate, minimum=8000)
        if self.redact is not None and not callable(self.redact):
            raise TypeError(f"RecordingOptions redact must be a function, got {self.redact!r}")
        if self.folder is not None and not isinstance(self.folder, str | Path):
            raise TypeError(f"RecordingOptions folder must be a path, got {self.folder!r}")


@dataclass
class TranscriptEntry:
    t: float  # seconds since the session started (when the message was added to the history)
    role: str  # "user" or "assistant"
    text: str
    interrupted: bool = False  # the agent was cut off: ``text`` is what was heard


@dataclass
class RecordingFiles:
    folder: Path
    audio: Path | None  # call.wav (None when audio is off)
    transcript: Path  # transcript.json
    events: Path  # events.jsonl, one event a line


@dataclass
class SessionReport:
    """One session as recorded: the same as the files, as an object."""

    started_at: float  # wall clock (epoch seconds) at t = 0
    origin: float  # loop time at t = 0
    duration: float  # seconds from t = 0 to the last event (or now)
    events: list[EventRecord]
    transcript: list[TranscriptEntry]
    user_audio: TimedFrames = field(default_factory=list)  # (loop time, frame) as it arrived
    agent_audio: TimedFrames = field(default_factory=list)  # (loop time, frame) as it was played

    def stereo_audio(self, sample_rate: int = 24000) -> AudioFrame:
        """The call on one timeline from t = 0: the user on the left channel, the agent on the right."""
        return stereo_track(self.user_audio, self.agent_audio, origin=self.origin, sample_rate=sample_rate)

    def to_dict(self) -> dict[str, Any]:
        """The transcript and the events, JSON-ready."""
        return {
            "started_at": datetime.datetime.fromtimestamp(self.started_at, datetime.UTC).isoformat(),
            "duration": round(self.duration, 3),
            "transcript": [dataclasses.asdict(e) for e in self.transcript],
            "events": self.events,
        }

    def write(self, folder: str | Path, *, audio: bool = True, sample_rate: int = 24000) -> RecordingFiles:
        """Write ``call.wav``, ``transcript.json`` and ``events.jsonl`` into ``folder`` (blocking I/O)."""
        out = Path(folder)
        out.mkdir(parents=True, exist_ok=True)
        files = RecordingFiles(
            folder=out,
            audio=out / "call.wav" if audio else None,
            transcript=out / "transcript.json",
            events=out / "events.jsonl",
        )
        if files.audio is not None:
            write_wav(files.audio, self.stereo_audio(sample_rate))
        summary = self.to_dict()
        summary.pop("events")
        files.transcript.write_text(json.dumps(summary, indent=2) + "\n")
        with files.events.open("w") as f:
            for record in self.events:
                f.write(json.dumps(record, default=str) + "\n")
        return files


class SessionRecorder:
    """Records one session (see the module doc); the session calls :meth:`attach` and :meth:`finish`."""

    def __init__(self, options: RecordingOptions) -> None:
        self.options = options
        self.files: RecordingFiles | None = None
        self._events: list[EventRecord] = []
        self._transcript: list[TranscriptEntry] = []
        self._origin = 0.0
        self._started_at = time.time()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._input: _RecordingInput | None = None
        self._sink: _PlayoutRecorder | None = None
        self._finished_at: float | None = None

    @classmethod
    def create(cls, options: RecordingOptions | None) -> SessionRecorder | None:
        """A recorder for ``AgentSession(record=options)``; None when ``options`` is None."""
        check_instance("AgentSession record", options, RecordingOptions)
        return cls(options) if options is not None else None

    def attach(self, session: Any, io: SessionIO) -> SessionIO:
        """Start the clock, follow every event of ``session``; returns the I/O the session should use."""
        self._loop = asyncio.get_running_loop()
        self._origin = self._loop.time()
        self._started_at = time.time()
        for name in EVENT_NAMES:
            session.on(name, lambda payload, _name=name: self._on_event(_name, payload))
        if not self.options.audio:
            return io
        self._input = _RecordingInput(io.audio_input) if io.audio_input is not None else None
        output: AudioOutput | None = None
        if io.audio_output is not None:
            self._sink = _PlayoutRecorder()
            output = _MirroredOutput(io.audio_output, self._sink)
        return _RecordedIO(io, self._input, output, self._sink)

    def report(self) -> SessionReport:
        end = self._finished_at if self._finished_at is not None else self._now()
        return SessionReport(
            started_at=self._started_at,
            origin=self._origin,
            duration=end,
            events=list(self._events),
            transcript=list(self._transcript),
            user_audio=list(self._input.frames) if self._input is not None else [],
            agent_audio=list(self._sink.frames) if self._sink is not None else [],
        )

    async def finish(self) -> RecordingFiles | None:
        """The session closed: write the files (off the event loop) unless ``write=False``."""
        if self._finished_at is None:
            self._finished_at = self._now()
        if not self.options.write or self.files is not None or self._loop is None:  # never started
            return self.files
        report = self.report()
        folder = self._folder()
        try:
            self.files = await asyncio.to_thread(
                report.write, folder, audio=self.options.audio, sample_rate=self.options.sample_rate
            )
        except OSError as e:
            logger.error("could not write the session recording to %s: %s", folder, e)
            return None
        logger.info("session recorded in %s", folder)
        return self.files

    # -- internals --------------------------------------------------------------------------------
    def _now(self) -> float:
        return self._loop.time() - self._origin if self._loop is not None else 0.0

    def _folder(self) -> Path:
        if self.options.folder is not None:
            return Path(self.options.folder)
        base = Path(os.environ.get(RECORDINGS_DIR_ENV) or DEFAULT_RECORDINGS_DIR)
        stamp = datetime.datetime.fromtimestamp(self._started_at, datetime.UTC).strftime("%Y%m%d-%H%M%S")
        return base / f"{stamp}-{secrets.token_hex(3)}"

    def _on_event(self, name: str, payload: Any) -> None:
        data = to_jsonable(payload)
        if not isinstance(data, dict):
            data = {"value": data}
        data.pop("type", None)
        record: EventRecord | None = _redact_strings({"t": round(self._now(), 4), "type": name, **data})
        if self.options.redact is not None and record is not None:
            try:
                record = self.options.redact(record)
            except Exception:
                logger.exception("the recording's redact hook failed: the event is not kept")
                return
        if record is None:
            return
        self._events.append(record)
        item = record.get("item") if name == "conversation_item_added" else None
        if isinstance(item, dict) and item.get("type") == "message" and item.get("role") in ("user", "assistant"):
            self._transcript.append(
                TranscriptEntry(
                    t=record.get("t", 0.0),
                    role=str(item["role"]),
                    text=str(item.get("content", "")),
                    interrupted=bool(item.get("interrupted", False)),
                )
            )


def to_jsonable(value: Any) -> Any:
    """A JSON-ready copy of an event payload (dataclasses, enums, errors, handles)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, BaseException):
        return f"{type(value).__name__}: {value}"
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [to_jsonable(v) for v in value]
    ident = getattr(value, "id", None)
    if isinstance(ident, str):
        return {"id": ident}
    return repr(value)


def _redact_strings(value: Any) -> Any:
    if isinstance(value, str):
        return redact_secrets(value)
    if isinstance(value, dict):
        return {k: _redact_strings(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact_strings(v) for v in value]
    return value


def _delegate(wrapper: Any, attribute: str, name: str) -> Any:
    """``name`` read from the wrapped object (none while the wrapper is being built)."""
    inner = wrapper.__dict__.get(attribute)
    if inner is None or name.startswith("__"):
        raise AttributeError(name)
    return getattr(inner, name)


class _RecordingInput(AudioInput):
    """Passes the user's frames through, keeping each with the loop time it started."""

    def __init__(self, inner: AudioInput) -> None:
        self.inner = inner
        self.frames: TimedFrames = []

    def __getattr__(self, name: str) -> Any:  # e.g. ``dropped_duration`` of a room input
        return _delegate(self, "inner", name)

    def __aiter__(self) -> AsyncIterator[AudioFrame]:
        return self._frames()

    async def _frames(self) -> AsyncIterator[AudioFrame]:
        loop = asyncio.get_running_loop()
        async for frame in self.inner:
            if isinstance(frame, AudioFrame):
                arrived = frame.captured_at
                start = arrived - frame.duration if arrived is not None else loop.time()
                self.frames.append((start, frame))
            yield frame

    async def aclose(self) -> None:
        await self.inner.aclose()


class _PlayoutRecorder(PacedAudioOutput):
    """Plays the agent's voice out on the loop clock into a list, in step with the real output."""

    def __init__(self) -> None:
        super().__init__()
        self.frames: TimedFrames = []

    async def _write_frame(self, frame: AudioFrame) -> None:
        self.frames.append((asyncio.get_running_loop().time(), frame))


class _MirroredOutput(MirroredAudioOutput):
    """The session's output, with every call copied to the recorder; reads are the real output's."""

    def __getattr__(self, name: str) -> Any:  # e.g. ``segments`` of a memory output
        return _delegate(self, "primary", name)

    async def aclose(self) -> None:  # the recorder's sink is closed with the I/O (``_RecordedIO``)
        await self.primary.aclose()


class _RecordedIO(SessionIO):
    """The user's I/O with the recorder's taps; other attributes are the user's I/O's."""

    def __init__(
        self,
        inner: SessionIO,
        audio_input: AudioInput | None,
        audio_output: AudioOutput | None,
        sink: _PlayoutRecorder | None,
    ) -> None:
        super().__init__(audio_input=audio_input, audio_output=audio_output, text_output=inner.text_output)
        self.inner = inner
        self._sink = sink

    def __getattr__(self, name: str) -> Any:
        return _delegate(self, "inner", name)

    async def start(self, session: Any) -> None:
        await self.inner.start(session)

    async def aclose(self) -> None:
        try:
            await self.inner.aclose()
        finally:
            if self._sink is not None:
                await self._sink.aclose()
