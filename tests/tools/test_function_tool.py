from __future__ import annotations

import enum
from typing import Annotated, Literal

import pydantic
import pytest
from pydantic import Field

from livekitex_agent.tools import RunContext, ToolArgumentsError, function_tool


class Unit(enum.Enum):
    CELSIUS = "celsius"
    FAHRENHEIT = "fahrenheit"


class Address(pydantic.BaseModel):
    street: str
    zip_code: str


@function_tool
async def book(
    ctx: RunContext,
    name: str,
    guests: int,
    budget: float,
    outdoor: bool,
    unit: Unit,
    slot: Literal["lunch", "dinner"],
    tags: list[str],
    note: str | None = None,
    address: Address | None = None,
    level: Annotated[int, Field(description="Floor level", ge=0, le=3)] = 0,
) -> str:
    """Book a table.

    Args:
        name: Who the booking is for.
        guests: How many people
            are coming.
    """
    return f"{name}:{guests}"


def test_schema_from_type_hints_and_docstring() -> None:
    schema = book.parameters
    props = schema["properties"]
    assert book.name == "book"
    assert book.description == "Book a table."
    assert "ctx" not in props  # the run context is injected, not in the schema
    assert props["name"] == {"type": "string", "description": "Who the booking is for."}
    assert props["guests"]["type"] == "integer"
    assert props["guests"]["description"] == "How many people are coming."
    assert props["budget"]["type"] == "number"
    assert props["outdoor"]["type"] == "boolean"
    assert props["slot"]["enum"] == ["lunch", "dinner"]
    assert props["tags"] == {"type": "array", "items": {"type": "string"}}
    assert props["level"]["description"] == "Floor level"
    assert props["level"]["minimum"] == 0 and props["level"]["maximum"] == 3
    assert set(schema["required"]) == {"name", "guests", "budget", "outdoor", "unit", "slot", "tags"}
    assert schema["additionalProperties"] is False
    # enums and nested models are described in $defs
    assert schema["$defs"]["Unit"]["enum"] == ["celsius", "fahrenheit"]
    assert set(schema["$defs"]["Address"]["properties"]) == {"street", "zip_code"}


def test_validation_names_the_bad_value() -> None:
    good = '{"name": "Ann", "guests": 2, "budget": 50, "outdoor": true, "unit": "celsius", "slot": "dinner", "tags": []}'
    args = book.parse_arguments(good)
    assert args.guests == 2 and args.unit is Unit.CELSIUS  # type: ignore[attr-defined]

    with pytest.raises(ToolArgumentsError) as e:
        book.parse_arguments(good.replace('"dinner"', '"breakfast"'))
    assert "slot" in str(e.value) and "breakfast" in str(e.value) and "'book'" in str(e.value)

    with pytest.raises(ToolArgumentsError) as e:
        book.parse_arguments('{"name": "Ann"')
    assert "not valid JSON" in str(e.value)

    with pytest.raises(ToolArgumentsError) as e:
        book.parse_arguments('["Ann"]')
    assert "JSON object" in str(e.value)

    with pytest.raises(ToolArgumentsError) as e:
        book.parse_arguments('{"name": "Ann"}')
    assert "guests: missing" in str(e.value)

    with pytest.raises(ToolArgumentsError) as e:
        book.parse_arguments(good[:-1] + ', "extra": 1}')
    assert "extra" in str(e.value)


async def test_methods_bind_to_their_instance() -> None:
    class Shop:
        def __init__(self, name: str) -> None:
            self.name = name

        @function_tool(name="shop_name", timeout=5)
        async def which(self) -> str:
            """Name of the shop."""
            return self.name

    a, b = Shop("a"), Shop("b")
    assert a.which is not b.which
    assert a.which.name == "shop_name" and a.which.timeout == 5
    assert await a.which.invoke(a.which.parse_arguments("{}"), None) == "a"
    assert await b.which() == "b"
    assert Shop.which.parameters["properties"] == {}


def test_bad_declarations_are_clear_errors() -> None:
    with pytest.raises(TypeError, match="needs a type hint"):

        @function_tool
        async def untyped(x) -> str:  # type: ignore[no-untyped-def]
            return ""

    with pytest.raises(TypeError, match="kwargs"):

        @function_tool
        async def star(**kw: int) -> str:
            return ""

    with pytest.raises(ValueError, match="timeout"):

        @function_tool(timeout=0)
        async def zero() -> str:
            return ""


class Data:
    city = "Oslo"


class Socket:  # not something pydantic can put in a JSON schema
    pass


def test_sphinx_param_docs_and_a_parametrised_run_context_first() -> None:
    class Weather:
        @function_tool
        async def forecast(self, context: RunContext[Data], city: str, days: int = 1) -> str:
            """Forecast for a city.

            :param city: The city to look up.
            :param days: How many days
                ahead.
            :returns: the forecast
            """
            return f"{context.userdata.city}->{city}:{days}"

    tool = Weather().forecast
    assert tool.description == "Forecast for a city."
    assert tool.context_param == "context"
    assert tool.parameters["properties"] == {
        "city": {"type": "string", "description": "The city to look up."},
        "days": {"type": "integer", "default": 1, "description": "How many days ahead."},
    }
    assert tool.parameters["required"] == ["city"]


def test_two_tools_with_one_name_in_a_class_are_refused_naming_both() -> None:
    from livekitex_agent.tools.function_tool import DuplicateToolNameError

    with pytest.raises(DuplicateToolNameError, match=r"two tools named 'lookup': lookup_a .* and lookup_b"):

        class Twice:
            @function_tool(name="lookup")
            async def lookup_a(self) -> str:
                return "a"

            @function_tool(name="lookup")
            async def lookup_b(self) -> str:
                return "b"

    with pytest.raises(DuplicateToolNameError, match="two tools named 'weather'"):

        class Redefined:
            @function_tool
            async def weather(self) -> str:
                return "first"

            @function_tool
            async def weather(self) -> str:  # noqa: F811 - the mistake under test
                return "second"


def test_an_unsupported_type_hint_names_the_tool_and_the_parameter() -> None:
    with pytest.raises(TypeError, match=r"tool 'send': parameter 'sock' has an unsupported type hint"):

        @function_tool
        async def send(text: str, sock: Socket) -> str:
            return text
