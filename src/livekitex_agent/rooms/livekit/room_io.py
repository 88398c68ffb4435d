"""``LiveKitRoomIO``: what makes an agent session hear and speak in a LiveKit room."""

from __future__ import annotations

import asyncio
import datetime
import logging
from collections.abc import Callable
from typing import Any

from livekit import rtc

from ...errors import ConfigError
from ...events import AgentState, AgentStateChangedEvent, CloseReason, UserInputTranscribedEvent
from ...media.io import SessionIO
from ...validation import check_bool, check_number
from ._tasks import TaskOwner
from .audio_input import RoomAudioInput
from .audio_output import RoomAudioOutput
from .chat_input import ChatInput, ChatLimits
from .conventions import ATTR_AGENT_STATE, TOPIC_CHAT, select_participant
from .dev_data import AgentDataPublisher, agent_data_enabled
from .transcription import RoomTextOutput, UserTranscriptForwarder

logger = logging.getLogger("livekitex_agent.rooms.livekit")

_NEVER = datetime.datetime.max.replace(tzinfo=datetime.UTC)
_RECONNECT_SETTLE_TIMEOUT = 30.0


def _is_microphone(publication: rtc.TrackPublication) -> bool:
    return (
        publication.source == rtc.TrackSource.SOURCE_MICROPHONE
        and publication.kind == rtc.TrackKind.KIND_AUDIO
    )


LINK_SETTLE_SECONDS = 0.3  # first link only: a user waiting for the agent loses nothing

class LiveKitRoomIO(SessionIO):
    """Session I/O for a connected :class:`rtc.Room`.

    - input: the microphone of the linked participant (``participant_identity``, or else the first
      person/phone caller in the room, waited for if nobody is there), followed across re-published
      tracks and reconnects;
    - output: the agent's voice as a published microphone track, paced in real time;
    - text: the agent's words and the user's transcripts on ``lk.transcription``, chat messages on
      ``lk.chat`` become ``session.generate_reply(user_input=...)`` (bounded and in arrival order, a
      burst answered in one turn: see :class:`ChatLimits`), and the participant attribute
      ``lk.agent.state`` follows the session's agent state; with ``agent_data`` (default: env
      ``LIVEKITEX_AGENT_DATA``, set by ``dev``) each turn's latency and tool calls go to the linked
      participant on ``lk.agent.metrics`` / ``lk.agent.tools`` (see :mod:`.dev_data`).

    When the linked participant leaves, the input waits; if they are not back (same identity) within
    ``disconnect_grace`` seconds the session is closed (``close_on_disconnect``) or, without it and
    without a pinned identity, the next person to join is linked instead.
    """

    def __init__(
        self,
        room: rtc.Room,
        *,
        participant_identity: str | None = None,
        input_sample_rate: int = 24000,
        output_sample_rate: int = 24000,
        close_on_disconnect: bool = True,
        disconnect_grace: float = 3.0,
        text_input: bool = True,
        track_name: str = "agent-voice",
        chat_limits: ChatLimits | None = None,
        agent_data: bool | None = None,
    ) -> None:
        check_number("disconnect_grace", disconnect_grace, unit=" seconds")
        check_bool("close_on_disconnect", close_on_disconnect)
        check_bool("text_input", text_input)
        check_bool("agent_data", agent_data, allow_none=True)
        for name, rate in (
            ("input_sample_rate", input_sample_rate),
            ("output_sample_rate", output_sample_rate),
        ):
            if not isinstance(rate, int) or not 8000 <= rate <= 48000:
                raise ConfigError(f"{name} must be an integer between 8000 and 48000 Hz, got {rate!r}")
        if participant_identity is not None and not participant_identity:
            raise ConfigError("participant_identity must be a non-empty identity or None")
        self.room = room
        self._pinned = participant_identity
        self._close_on_disconnect = close_on_disconnect
        self._grace = disconnect_grace
        self._text_input = text_input
        self._input = RoomAudioInput(sample_rate=input_sample_rate)
        self._output = RoomAudioOutput(room, sample_rate=output_sample_rate, track_name=track_name)
        self._text = RoomTextOutput(room, track_sid=lambda: self._output.track_sid)
        super().__init__(audio_input=self._input, audio_output=self._output, text_output=self._text)
        self._user_transcripts = UserTranscriptForwarder(room)
        self._agent_data = (
            AgentDataPublisher(room, lambda: self._linked) if agent_data_enabled(agent_data) else None
        )
        self._session: Any = None
        self._linked: str | None = None
        self._link_scheduled = False
        self._away = False  # the linked participant left and may come back within the grace period
        self._tasks = TaskOwner()
        self._grace_task: asyncio.Task[None] | None = None
        self._close_task: asyncio.Task[None] | None = None
        self._room_settled = asyncio.Event()
        self._room_settled.set()
        self._chat = ChatInput(self._chat_reply, limits=chat_limits)
        self._chat_registered = False
        self._state_wanted: str | None = None
        self._state_sent: str | None = None
        self._state_task: asyncio.Task[None] | None = None
        self._room_handlers: list[tuple[str, Callable[..., Any]]] = []
        self._session_handlers: list[tuple[str, Callable[..., Any]]] = []
        self._started = False
        self._closed = False

    # -- public ---------------------------------------------------------------------------------
    @property
    def linked_participant(self) -> str | None:
        """Identity of the participant the agent listens to (kept while they are briefly away)."""
        return self._linked

    @property
    def user_track_sid(self) -> str | None:
        """Sid of the microphone track being listened to, if any."""
        return self._input.track_sid

    @property
    def agent_track_sid(self) -> str | None:
        """Sid of the agent's published audio track."""
        return self._output.track_sid

    async def start(self, session: Any) -> None:
        """Publish the agent's track, link a participant and hook into the session's events."""
        if self._started:
            raise RuntimeError("LiveKitRoomIO.start was already called")
        if not self.room.isconnected():
            raise RuntimeError(
                "LiveKitRoomIO needs a connected room: await ctx.connect() (or room.connect) first"
            )
        self._started = True
        self._session = session
        for event, handler in (
            ("participant_connected", self._on_participant_connected),
            ("participant_disconnected", self._on_participant_disconnected),
            ("track_published", self._on_track_published),
            ("track_subscribed", self._on_track_subscribed),
            ("track_unsubscribed", self._on_track_unsubscribed),
            ("local_track_subscribed", self._on_local_track_subscribed),
            ("reconnecting", self._on_reconnecting),
            ("reconnected", self._on_reconnected),
            ("disconnected", self._on_disconnected),
        ):
            self.room.on(event, handler)  # type: ignore[arg-type]
            self._room_handlers.append((event, handler))
        for sevent, shandler in (
            ("agent_state_changed", self._on_agent_state_changed),
            ("user_input_transcribed", self._on_user_input_transcribed),
        ):
            session.on(sevent, shandler)
            self._session_handlers.append((sevent, shandler))
        if self._agent_data is not None:
            self._agent_data.attach(session)
        if self._text_input:
            try:
                self.room.register_text_stream_handler(TOPIC_CHAT, self._on_chat_stream)
                self._chat_registered = True
            except ValueError:
                logger.warning(
                    "a handler for topic %r is already registered: chat input is disabled", TOPIC_CHAT
                )
        try:
            await self._output.publish()
        except BaseException:
            await self.aclose()  # leave the room as we found it
            raise
        state = getattr(session, "agent_state", None)
        if isinstance(state, AgentState):
            self._set_agent_state(state.value)
        self._link_first_present()
        if self._linked is None:
            logger.info("waiting for a participant to join the room")

    async def aclose(self) -> None:
        """Stop listening and speaking: unpublish the track and cancel every task."""
        if self._closed:
            return
        self._closed = True
        for event, handler in self._room_handlers:
            self.room.off(event, handler)  # type: ignore[arg-type]
        self._room_handlers.clear()
        off = getattr(self._session, "off", None)
        if off is not None:
            for sevent, shandler in self._session_handlers:
                off(sevent, shandler)
        self._session_handlers.clear()
        if self._chat_registered:
            self.room.unregister_text_stream_handler(TOPIC_CHAT)
            self._chat_registered = False
        await self._tasks.cancel_all(keep=(self._close_task,))
        await self._chat.aclose()
        await self._text.aclose()
        await self._user_transcripts.aclose()
        if self._agent_data is not None:
            await self._agent_data.aclose()
        await self._input.aclose()
        await self._output.aclose()

    # -- linking --------------------------------------------------------------------------------
    def _link_first_present(self) -> None:
        # earliest joiner first (the room's dict is in the order the server's updates arrived)
        present = sorted(self.room.remote_participants.values(), key=lambda p: p.joined_at or _NEVER)
        candidates = [(p.identity, p.kind) for p in present]
        identity = select_participant(candidates, identity=self._pinned)
        if identity is not None:
            self._link(self.room.remote_participants[identity])

    def _link(self, participant: rtc.RemoteParticipant) -> None:
        returning = self._away and participant.identity == self._linked
        self._linked = participant.identity
        self._away = False
        if self._grace_task is not None:
            self._grace_task.cancel()
            self._grace_task = None
        logger.info("%s participant %s", "re-linked" if returning else "linked to", participant.identity)
        self._attach_microphone(participant)

    def _attach_microphone(self, participant: rtc.RemoteParticipant) -> None:
        for pub in participant.track_publications.values():
            if not _is_microphone(pub):
                continue
            if pub.track is not None and pub.subscribed:
                self._input.attach(pub.track, pub.sid)
                return
            if not pub.subscribed:
                pub.set_subscribed(True)  # needed when the room does not auto-subscribe

    def _linked_participant(self) -> rtc.RemoteParticipant | None:
        if self._linked is None or self._away:
            return None
        return self.room.remote_participants.get(self._linked)

    # -- room events ----------------------------------------------------------------------------
    def _on_participant_connected(self, participant: rtc.RemoteParticipant) -> None:
        if self._linked is None:
            # the server announces participants in batches, not in join order, and the SDK hands a
            # batch over across several loop turns: let it settle, then pick the earliest joiner
            if not self._link_scheduled:
                self._link_scheduled = True
                asyncio.get_running_loop().call_later(LINK_SETTLE_SECONDS, self._deferred_link)
        elif self._away and participant.identity == self._linked:
            self._link(participant)

    def _deferred_link(self) -> None:
        self._link_scheduled = False
        if self._linked is None and not self._closed:
            self._link_first_present()

    def _on_participant_disconnected(self, participant: rtc.RemoteParticipant) -> None:
        if participant.identity != self._linked or self._away:
            return
        logger.info(
            "linked participant %s left; waiting %.1f s for them to come back",
            participant.identity,
            self._grace,
        )
        self._away = True
        self._input.detach()
        self._grace_task = self._tasks.spawn(self._grace_period(), name="lk-participant-grace")

    def _on_track_published(
        self, publication: rtc.RemoteTrackPublication, participant: rtc.RemoteParticipant
    ) -> None:
        linked = participant.identity == self._linked and not self._away
        if linked and _is_microphone(publication) and not publication.subscribed:
            publication.set_subscribed(True)

    def _on_track_subscribed(
        self, track: rtc.Track, publication: rtc.RemoteTrackPublication, participant: rtc.RemoteParticipant
    ) -> None:
        if participant.identity == self._linked and not self._away and _is_microphone(publication):
            self._input.attach(track, publication.sid)

    def _on_track_unsubscribed(
        self, track: rtc.Track, publication: rtc.RemoteTrackPublication, participant: rtc.RemoteParticipant
    ) -> None:
        if publication.sid == self._input.track_sid:
            self._input.detach()
            if (linked := self._linked_participant()) is not None:
                self._attach_microphone(linked)  # another microphone track may still be there

    def _on_local_track_subscribed(self, track: rtc.Track) -> None:
        if track is not None and track.sid == self._output.track_sid:
            self._output.mark_subscribed()

    def _on_reconnecting(self) -> None:
        logger.info("room connection lost; reconnecting")
        self._room_settled.clear()

    def _on_reconnected(self) -> None:
        logger.info("room reconnected")
        self._room_settled.set()
        self._tasks.spawn(self._output.publish(), name="lk-republish-audio")  # no-op if still published
        self._state_sent = None  # push the state again: cheap, and the server may have lost it
        if self._state_wanted is not None:
            self._set_agent_state(self._state_wanted)
        if (linked := self._linked_participant()) is not None and self._input.track_sid is None:
            self._attach_microphone(linked)

    def _on_disconnected(self, reason: Any = None) -> None:
        self._room_settled.set()
        if self._close_on_disconnect:
            logger.info("agent disconnected from the room (reason %s); closing the session", reason)
            self._request_close(CloseReason.PARTICIPANT_DISCONNECTED)

    async def _grace_period(self) -> None:
        await asyncio.sleep(self._grace)
        # a reconnecting room re-announces every participant: let it settle before deciding
        try:
            await asyncio.wait_for(self._room_settled.wait(), _RECONNECT_SETTLE_TIMEOUT)
        except TimeoutError:
            pass
        if not self._away:
            return
        self._grace_task = None
        if self._linked is not None and self._linked in self.room.remote_participants:
            self._link(self.room.remote_participants[self._linked])
            return
        if self._close_on_disconnect:
            logger.info("participant %s did not come back; closing the session", self._linked)
            self._request_close(CloseReason.PARTICIPANT_DISCONNECTED)
        elif self._pinned is None:
            self._linked, self._away = None, False
            self._link_first_present()

    def _request_close(self, reason: CloseReason) -> None:
        if self._closed or self._close_task is not None or self._session is None:
            return
        # not cancelled by aclose (which this very close triggers); it ends on its own
        self._close_task = self._tasks.spawn(self._close_session(reason), name="lk-close-session")

    async def _close_session(self, reason: CloseReason) -> None:
        await self._session.aclose(reason=reason)

    # -- text input -----------------------------------------------------------------------------
    def _on_chat_stream(self, reader: rtc.TextStreamReader, participant_identity: str) -> None:
        if self._closed or (self._linked is not None and participant_identity != self._linked):
            if not self._closed:
                logger.debug("ignoring a chat message from %s (linked: %s)", participant_identity, self._linked)
            reader.close()  # never read: nothing of it is held
            return
        self._chat.on_stream(reader, participant_identity)

    def _chat_reply(self, text: str) -> Any:
        logger.debug("chat message: %d characters", len(text))
        return self._session.generate_reply(user_input=text)

    # -- session events -------------------------------------------------------------------------
    def _on_agent_state_changed(self, event: AgentStateChangedEvent) -> None:
        state = event.new_state
        self._set_agent_state(state.value if isinstance(state, AgentState) else str(state))

    def _set_agent_state(self, value: str) -> None:
        if self._closed or value == AgentState.CLOSED.value:
            return
        self._state_wanted = value
        if self._state_task is None or self._state_task.done():
            self._state_task = self._tasks.spawn(self._sync_agent_state(), name="lk-agent-state")

    async def _sync_agent_state(self) -> None:
        # only the latest state matters: states set while an update is in flight are merged
        while self._state_wanted is not None and self._state_wanted != self._state_sent:
            if not self.room.isconnected():
                return
            value = self._state_wanted
            try:
                await self.room.local_participant.set_attributes({ATTR_AGENT_STATE: value})
            except Exception as e:
                logger.warning("failed to publish %s=%s: %s", ATTR_AGENT_STATE, value, e)
                return
            self._state_sent = value

    def _on_user_input_transcribed(self, event: UserInputTranscribedEvent) -> None:
        identity = self._linked
        if self._closed or identity is None or (not event.transcript and not event.is_final):
            return
        track_sid = self._input.track_sid
        if track_sid is None and (participant := self.room.remote_participants.get(identity)) is not None:
            track_sid = next(
                (p.sid for p in participant.track_publications.values() if _is_microphone(p)), None
            )
        self._user_transcripts.forward(
            event.transcript, final=event.is_final, sender_identity=identity, track_sid=track_sid
        )
