"""The context a tool receives when it declares a ``RunContext`` parameter."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from ..chat import FunctionCall

UserData = TypeVar("UserData")


@dataclass
class RunContext(Generic[UserData]):
    """What a running tool can see: the session, the speech it belongs to and the call itself."""

    session: Any  # the AgentSession (typed loosely: tools sit below the session layer)
    speech_handle: Any
    function_call: FunctionCall

    @property
    def userdata(self) -> UserData:
        """The ``userdata`` object given to the session, shared by all tools of a conversation."""
        return self.session.userdata
