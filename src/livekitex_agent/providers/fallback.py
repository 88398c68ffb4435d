"""Fallback adapters: several providers of one kind used as one, switching on failure.

:class:`FallbackLLM`, :class:`FallbackSTT` and :class:`FallbackTTS` are providers of their kind.
Each request goes to the first *available* provider; when it fails (an error, or no output within
``attempt_timeout``) the next one is tried. Once output has started streaming (the first LLM chunk,
the first TTS frame) there is no switch inside the stream: a later failure propagates to the caller,
retryable while another provider is available, so that :mod:`.resume` (which the session uses)
continues the answer on the next provider without repeating what was already said.

A provider that failed is marked unavailable (event ``availability_changed`` with an
:class:`AvailabilityChangedEvent`), skipped by later requests, and probed in the background
(a tiny request every ``recovery_interval``, at most ``max_recovery_probes`` times) until it answers
again. When every provider is unavailable, all are tried in order anyway. ``aclose`` stops the
probes and closes the wrapped providers.

- ``llms``, ``stts``, ``ttss``: the providers, in order of preference (at least one).
- ``options``: a :class:`FallbackOptions` (timeouts, retries, recovery probes).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, Protocol, TypeVar

from ..chat import ChatContext, ChatMessage
from ..errors import ConfigError, ProviderError, ProviderTimeoutError
from ..events import EventEmitter
from ..log import redact
from ..media.frame import AudioFrame, combine_frames
from ..media.resample import Resampler, resample
from ..tools.function_tool import FunctionTool
from ..validation import check_int, check_number
from .base import Provider
from .llm import LLM, ChatChunk, GeneratorLLMStream, LLMStream, ToolChoice
from .stt import STT, SpeechEvent
from .tts import TTS, GeneratorTTSStream, TTSStream

logger = logging.getLogger("livekitex_agent.providers.fallback")

FallbackEventName = Literal["availability_changed"]
P = TypeVar("P", bound=Provider)
T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


@dataclass
class AvailabilityChangedEvent:
    """``provider`` became unavailable (``available=False``, with the ``error``) or recovered."""

    provider: Provider
    available: bool
    error: BaseException | None = None
    type: Literal["availability_changed"] = "availability_changed"
    created_at: float = field(default_factory=time.time)


@dataclass(frozen=True)
class FallbackOptions:
    """How a fallback adapter tries its providers and brings failed ones back."""

    attempt_timeout: float | None = 10.0  # until the first output (LLM/TTS) or the result (STT)
    retries_per_provider: int = 0  # extra attempts on a retryable error before moving on
    recovery_interval: float = 5.0  # seconds between probes of an unavailable provider
    probe_timeout: float = 10.0  # seconds a recovery probe may take before it counts as failed
    max_recovery_probes: int = 60  # per outage; afterwards it is only retried when all others fail

    def __post_init__(self) -> None:
        check_number("FallbackOptions.attempt_timeout", self.attempt_timeout, exclusive=True, allow_none=True)
        check_int("FallbackOptions.retries_per_provider", self.retries_per_provider)
        check_number("FallbackOptions.recovery_interval", self.recovery_interval, exclusive=True)
        check_number("FallbackOptions.probe_timeout", self.probe_timeout, exclusive=True)
        check_int("FallbackOptions.max_recovery_probes", self.max_recovery_probes)


class _Stream(Protocol[T_co]):  # what LLMStream and TTSStream have in common
    def __aiter__(self) -> AsyncIterator[T_co]: ...

    async def aclose(self) -> None: ...


def _as_provider_error(exc: Exception, provider: Provider) -> ProviderError:
    if isinstance(exc, ProviderError):
        return exc
    if isinstance(exc, TimeoutError):
        return ProviderTimeoutError("no output within the attempt timeout", provider=provider.label)
    return ProviderError(
        f"unexpected {type(exc).__name__}: {redact(str(exc))}", provider=provider.label, retryable=True
    )


class _Fallback(EventEmitter[FallbackEventName], Generic[P]):
    """Availability bookkeeping, recovery probes and the try-in-order loops shared by the adapters."""

    def __init__(self, providers: Sequence[P], options: FallbackOptions | None, kind: str) -> None:
        EventEmitter.__init__(self)
        if not providers:
            raise ConfigError(f"a fallback {kind} needs at least one provider, got none")
        self.providers: list[P] = list(providers)
        self.options = options or FallbackOptions()
        self._available = [True] * len(self.providers)
        self._probes: dict[int, asyncio.Task[None]] = {}
        self._closed = False

    # -- availability ---------------------------------------------------------------------------
    def is_available(self, provider: P) -> bool:
        return self._available[self.providers.index(provider)]

    @property
    def recovering(self) -> list[P]:
        """Unavailable providers whose recovery probes are still running."""
        return [self.providers[i] for i, task in sorted(self._probes.items()) if not task.done()]

    async def probe(self, provider: P) -> None:
        """A tiny request that succeeds when ``provider`` works again (overridden per kind)."""
        raise NotImplementedError

    def _candidates(self) -> list[int]:
        self._closed = False  # in use again (closing is not the end: see AgentSession's provider rule)
        available = [i for i, ok in enumerate(self._available) if ok]
        return available or list(range(len(self.providers)))

    def _set_available(self, i: int, available: bool, error: BaseException | None = None) -> None:
        if self._available[i] == available:
            return
        self._available[i] = available
        provider = self.providers[i]
        if available:
            logger.info("%s: %s is available again", self._name, provider.label)
            probe = self._probes.pop(i, None)
            if probe is not None and probe is not asyncio.current_task():
                probe.cancel()
        else:
            logger.warning("%s: %s is unavailable (%s)", self._name, provider.label, error)
            if not self._closed and self.options.max_recovery_probes > 0:
                self._probes[i] = asyncio.get_running_loop().create_task(
                    self._recover(i), name=f"fallback-recovery-{provider.label}"
                )
        self.emit("availability_changed", AvailabilityChangedEvent(provider, available, error))

    @property
    def _name(self) -> str:
        return type(self).__name__

    async def _recover(self, i: int) -> None:
        provider, opts = self.providers[i], self.options
        for n in range(1, opts.max_recovery_probes + 1):
            await asyncio.sleep(opts.recovery_interval)
            try:
                async with asyncio.timeout(opts.probe_timeout):
                    await self.probe(provider)
            except Exception as e:  # the probe failing is the expected case while it is down
                logger.debug("%s: probe %d of %s failed: %s", self._name, n, provider.label, e)
                continue
            self._probes.pop(i, None)
            self._set_available(i, True)
            return
        self._probes.pop(i, None)
        logger.warning(
            "%s: %s still failing after %d probes; it will be tried only when all others fail",
            self._name,
            provider.label,
            opts.max_recovery_probes,
        )

    def _all_failed(self, errors: list[ProviderError]) -> ProviderError:
        detail = "; ".join(str(e) for e in errors)
        last = errors[-1]
        return ProviderError(
            f"all {len(self.providers)} providers failed: {detail}",
            provider=self._name,
            retryable=any(e.retryable for e in errors),
            category=last.category,
            status_code=last.status_code,
            code=last.code,
        )

    # -- the try-in-order loops -----------------------------------------------------------------
    async def _call(self, request: Callable[[P], Awaitable[T]]) -> T:
        """Run a one-shot request on the providers in order until one succeeds."""
        errors: list[ProviderError] = []
        for i in self._candidates():
            provider = self.providers[i]
            for _ in range(1 + self.options.retries_per_provider):
                try:
                    async with asyncio.timeout(self.options.attempt_timeout):
                        result = await request(provider)
                except Exception as e:
                    errors.append(_as_provider_error(e, provider))
                    if not errors[-1].retryable:
                        break
                    continue
                self._set_available(i, True)
                return result
            self._set_available(i, False, errors[-1])
        raise self._all_failed(errors)

    async def _stream(self, open_stream: Callable[[P], _Stream[T]]) -> AsyncIterator[T]:
        """Stream from the providers in order; switch only until the first item has arrived."""
        errors: list[ProviderError] = []
        for i in self._candidates():
            provider = self.providers[i]
            for _ in range(1 + self.options.retries_per_provider):
                stream = open_stream(provider)
                items = aiter(stream)
                try:
                    async with asyncio.timeout(self.options.attempt_timeout):
                        first = await anext(items)
                except StopAsyncIteration:  # an empty answer is still an answer
                    await _close_quietly(stream)
                    self._set_available(i, True)
                    return
                except Exception as e:
                    await _close_quietly(stream)
                    errors.append(_as_provider_error(e, provider))
                    if not errors[-1].retryable:
                        break
                    continue
                self._set_available(i, True)
                try:
                    yield first
                    async for item in items:
                        yield item
                except Exception as e:  # output has started: no switch here, the caller gets the error
                    self._set_available(i, False, e)
                    raise self._mid_stream_error(_as_provider_error(e, provider)) from e
                finally:
                    await _close_quietly(stream)
                return
            self._set_available(i, False, errors[-1])
        raise self._all_failed(errors)

    def _mid_stream_error(self, err: ProviderError) -> ProviderError:
        """A provider died after output started: retryable while another provider can take over
        (:mod:`.resume` then asks this adapter for the rest, which goes to the next provider)."""
        if err.retryable or not any(self._available):
            return err
        return ProviderError(f"{err.provider} failed mid-stream: {err.message}", provider=self._name,
                             retryable=True, category=err.category, status_code=err.status_code, code=err.code)

    async def aclose(self) -> None:
        """Stop the recovery probes and close every wrapped provider."""
        self._closed = True
        probes = list(self._probes.values())
        self._probes.clear()
        for task in probes:
            task.cancel()
        await asyncio.gather(*probes, return_exceptions=True)
        await asyncio.gather(*(p.aclose() for p in self.providers), return_exceptions=True)
        await self.aclose_handlers()


async def _close_quietly(stream: _Stream[Any]) -> None:
    try:
        await stream.aclose()
    except Exception as e:
        logger.debug("closing a failed stream raised %r", e)


class FallbackLLM(_Fallback[LLM], LLM):
    """An LLM that uses ``llms`` in order of preference (see the module doc)."""

    def __init__(self, llms: Sequence[LLM], options: FallbackOptions | None = None) -> None:
        _Fallback.__init__(self, llms, options, "LLM")

    def chat(
        self,
        *,
        chat_ctx: ChatContext,
        tools: Sequence[FunctionTool] = (),
        tool_choice: ToolChoice = "auto",
        temperature: float | None = None,
    ) -> LLMStream:
        def open_stream(llm: LLM) -> LLMStream:
            return llm.chat(chat_ctx=chat_ctx, tools=tools, tool_choice=tool_choice, temperature=temperature)

        def run() -> AsyncIterator[ChatChunk]:
            return self._stream(open_stream)

        return GeneratorLLMStream(run)

    async def probe(self, provider: LLM) -> None:
        ctx = ChatContext([ChatMessage(role="user", content="ping")])
        async with provider.chat(chat_ctx=ctx) as stream:
            async for _ in stream:
                break


class FallbackSTT(_Fallback[STT], STT):
    """An STT (per-segment recognition) that uses ``stts`` in order of preference.

    It takes audio at the first provider's ``sample_rate`` and resamples a segment for a provider
    that wants another rate.
    """

    def __init__(self, stts: Sequence[STT], options: FallbackOptions | None = None) -> None:
        _Fallback.__init__(self, stts, options, "STT")
        self.sample_rate = self.providers[0].sample_rate

    async def recognize(self, frames: Sequence[AudioFrame], *, language: str | None = None) -> SpeechEvent:
        async def request(stt: STT) -> SpeechEvent:
            return await stt.recognize(_at_rate(frames, stt.sample_rate), language=language)

        return await self._call(request)

    async def probe(self, provider: STT) -> None:
        await provider.recognize([AudioFrame.silence(0.5, provider.sample_rate or 16000)])


def _at_rate(frames: Sequence[AudioFrame], rate: int | None) -> Sequence[AudioFrame]:
    if rate is None or not frames or all(f.sample_rate == rate for f in frames):
        return frames
    return [resample(combine_frames([f.to_mono() for f in frames]), rate)]


class FallbackTTS(_Fallback[TTS], TTS):
    """A TTS that uses ``ttss`` in order of preference.

    Frames come out at the first provider's ``sample_rate``; audio of a provider with another rate
    is resampled on the way.
    """

    def __init__(self, ttss: Sequence[TTS], options: FallbackOptions | None = None) -> None:
        _Fallback.__init__(self, ttss, options, "TTS")
        self.sample_rate = self.providers[0].sample_rate
        self.num_channels = 1

    def synthesize(self, text: str) -> TTSStream:
        def open_stream(tts: TTS) -> TTSStream:
            return tts.synthesize(text)

        async def run() -> AsyncIterator[AudioFrame]:
            resampler: Resampler | None = None
            async for frame in self._stream(open_stream):
                if frame.sample_rate == self.sample_rate and frame.num_channels == 1:
                    yield frame
                    continue
                resampler = resampler or Resampler(self.sample_rate)
                out = resampler.push(frame)
                if out is not None:
                    yield out
            tail = resampler.flush() if resampler is not None else None
            if tail is not None:
                yield tail

        return GeneratorTTSStream(run)

    async def probe(self, provider: TTS) -> None:
        async with provider.synthesize("ping") as stream:
            async for _ in stream:
                break
