"""A browser playground: a page on the official ``livekit-client`` SDK to talk to an agent.

``python agent.py dev`` serves it on the worker's HTTP server (``--no-playground`` turns it off);
``python -m livekitex_agent playground --url ...`` serves it for any running worker. The page joins
a room with a short-lived token from a dev-only, loopback-only endpoint, dispatches the agent, and
shows its state, the transcript of both sides, chat, per-turn latency and tool calls (the latter two
from the :data:`~livekitex_agent.rooms.livekit.TOPIC_AGENT_METRICS` /
:data:`~livekitex_agent.rooms.livekit.TOPIC_AGENT_TOOLS` data topics).
"""

from .guard import is_loopback_host, token_request_problem
from .routes import PLAYGROUND_PATH, PlaygroundConfig, add_playground_routes, bundle_missing_message
from .server import PlaygroundServer
from .tokens import PLAYGROUND_TOKEN_TTL, playground_token

__all__ = [
    "PLAYGROUND_PATH",
    "PLAYGROUND_TOKEN_TTL",
    "PlaygroundConfig",
    "PlaygroundServer",
    "add_playground_routes",
    "bundle_missing_message",
    "is_loopback_host",
    "playground_token",
    "token_request_problem",
]
