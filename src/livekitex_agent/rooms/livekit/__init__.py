"""Session I/O for LiveKit rooms.

Importing this package registers :class:`LiveKitRoomIO` as the room I/O factory, so
``AgentSession.start(agent, room=ctx.room)`` works (the worker imports it for you).
"""

from ...session.room_io import register_room_io_factory
from .audio_input import RoomAudioInput
from .audio_output import RoomAudioOutput
from .chat_input import ChatLimits
from .conventions import (
    ATTR_AGENT_STATE,
    ATTR_SEGMENT_ID,
    ATTR_TRANSCRIBED_TRACK_ID,
    ATTR_TRANSCRIPTION_FINAL,
    TOPIC_AGENT_METRICS,
    TOPIC_AGENT_TOOLS,
    TOPIC_CHAT,
    TOPIC_TRANSCRIPTION,
)
from .room_io import LiveKitRoomIO
from .transcription import RoomTextOutput

register_room_io_factory(LiveKitRoomIO)

__all__ = [
    "ATTR_AGENT_STATE",
    "ATTR_SEGMENT_ID",
    "ATTR_TRANSCRIBED_TRACK_ID",
    "ATTR_TRANSCRIPTION_FINAL",
    "ChatLimits",
    "LiveKitRoomIO",
    "RoomAudioInput",
    "RoomAudioOutput",
    "RoomTextOutput",
    "TOPIC_AGENT_METRICS",
    "TOPIC_AGENT_TOOLS",
    "TOPIC_CHAT",
    "TOPIC_TRANSCRIPTION",
]
