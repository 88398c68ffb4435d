"""Function tools: the decorator, the registry, the executor and the run context."""

from ..errors import ToolError
from .context import RunContext
from .executor import ToolExecutor, ToolResult, serialize_result
from .function_tool import DEFAULT_TOOL_TIMEOUT, FunctionTool, ToolArgumentsError, function_tool
from .registry import DuplicateToolError, ToolRegistry, find_tools

__all__ = [
    "DEFAULT_TOOL_TIMEOUT",
    "DuplicateToolError",
    "FunctionTool",
    "RunContext",
    "ToolArgumentsError",
    "ToolError",
    "ToolExecutor",
    "ToolRegistry",
    "ToolResult",
    "find_tools",
    "function_tool",
    "serialize_result",
]
