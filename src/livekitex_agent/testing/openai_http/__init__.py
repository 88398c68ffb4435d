"""A local, scriptable OpenAI HTTP API (chat completions, transcriptions, speech) for tests."""

from .replies import ChatReply, ErrorReply, RawReply, SpeechReply, ToolCallReply, TranscriptReply
from .server import Endpoint, OpenAITestServer, RecordedRequest, UploadedFile

__all__ = [
    "ChatReply",
    "Endpoint",
    "ErrorReply",
    "OpenAITestServer",
    "RawReply",
    "RecordedRequest",
    "SpeechReply",
    "ToolCallReply",
    "TranscriptReply",
    "UploadedFile",
]
