"""OpenAI Realtime API (GA interface) over a websocket: ``RealtimeModel`` and its sessions."""

from .model import RealtimeModel, realtime_url
from .session import RealtimeSession

__all__ = ["RealtimeModel", "RealtimeSession", "realtime_url"]
