"""An offline rule-based dialogue policy (example), not an AI model.

It stands in for the LLM when no ``OPENAI_API_KEY`` is set, so the demo runs offline — and it goes
through the same path as a real model: it reads the :class:`ChatContext`, answers with tool calls
(which the framework validates, runs and appends to the history) and then, reading the tool
results, with text streamed as :class:`ChatChunk` deltas. Keyword rules cover the demo's
restaurant concierge (weather, bookings, the menu, small talk); anything else gets a polite
"I can help with ..." answer.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Sequence
from typing import Any

from ..chat import ChatContext, ChatMessage, FunctionCall, FunctionCallOutput
from ..providers.llm import LLM, ChatChunk, GeneratorLLMStream, LLMStream, ToolChoice
from ..tools.function_tool import FunctionTool

DESCRIPTION = "offline rule-based policy (example), not an AI model"

NUMBERS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
}  # fmt: skip
MINUTES = {"o'clock": 0, "fifteen": 15, "thirty": 30, "forty five": 45}
_WORD_RE = re.compile(r"[a-z0-9:']+")
# words that end a city name ("weather in paris today")
_CITY_STOP = frozenset({
    "today", "tomorrow", "tonight", "now", "please", "right", "this", "at", "on", "and", "like",
    "for", "the", "weather", "is", "will", "be",
})  # fmt: skip
_MORNING = re.compile(r"\b(am|a m|morning)\b")
ASK_BOOKING = "Sure. For how many people, and at what time?"
ASK_CITY = "Which city would you like the weather for?"
CAPABILITIES = "I can check the weather, book a table, or tell you about our dishes."


def normalize(text: str) -> str:
    """Lower-case words separated by single spaces (apostrophes and ``:`` kept)."""
    return " ".join(_WORD_RE.findall(text.lower().replace("’", "'")))


def _number(word: str) -> int | None:
    if word.isdigit():
        return int(word)
    return NUMBERS.get(word)


def parse_guests(text: str) -> int | None:
    """``"for four people"`` → 4, ``"six guests"`` → 6."""
    for pattern in (r"\bfor (\w+)\b", r"\b(\w+) (?:people|persons|guests)\b"):
        for m in re.finditer(pattern, text):
            n = _number(m.group(1))
            if n is not None:
                return n
    return None


def parse_time(text: str) -> str | None:
    """``"at eight tonight"`` → ``"20:00"``; a restaurant's times are in the evening unless said."""
    for m in re.finditer(r"\bat (\w+)(?::(\d{2})| (o'clock|fifteen|thirty|forty five))?", text):
        hour = _number(m.group(1))
        if hour is None:
            continue
        minute = int(m.group(2)) if m.group(2) else MINUTES.get(m.group(3) or "o'clock", 0)
        if hour > 23 or minute > 59:
            return None
        if 1 <= hour <= 11 and not _MORNING.search(text):
            hour += 12  # "at eight" on a restaurant's phone line means 20:00
        return f"{hour:02d}:{minute:02d}"
    return None


def parse_city(text: str) -> str | None:
    """The words after ``in`` up to a time word: ``"weather in new york today"`` → ``"New York"``."""
    m = re.search(r"\bin ([a-z' ]+)", text)
    if m is None:
        return None
    words: list[str] = []
    for word in m.group(1).split():
        if word in _CITY_STOP:
            break
        words.append(word)
    return " ".join(w.capitalize() for w in words) or None


def parse_diet(text: str) -> str | None:
    for word, diet in (("vegetarian", "vegetarian"), ("vegan", "vegan"), ("gluten", "gluten-free")):
        if word in text:
            return diet
    if re.search(r"\b(menu|dishes|dish|food|eat)\b", text):
        return "any"
    return None


def spoken_time(hhmm: str) -> str:
    """``"20:00"`` → ``"8 PM"``, ``"19:30"`` → ``"7:30 PM"``."""
    hour, minute = (int(x) for x in hhmm.split(":"))
    suffix = "PM" if hour >= 12 else "AM"
    h12 = hour % 12 or 12
    return f"{h12} {suffix}" if minute == 0 else f"{h12}:{minute:02d} {suffix}"


def _join(items: Sequence[str]) -> str:
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


class RuleBasedPolicy(LLM):
    """The demo's offline stand-in for an LLM: keyword rules in, tool calls and text out.

    It only calls tools it is offered (``tools`` of the request); with ``tool_choice="none"`` or
    without the tool it needs, it says what it cannot do instead.
    """

    description = DESCRIPTION

    @property
    def label(self) -> str:
        return "RuleBasedPolicy"

    def chat(
        self,
        *,
        chat_ctx: ChatContext,
        tools: Sequence[FunctionTool] = (),
        tool_choice: ToolChoice = "auto",
        temperature: float | None = None,
    ) -> LLMStream:
        offered = set() if tool_choice == "none" else {t.name for t in tools}
        items = list(chat_ctx.items)  # read now: the session may append while we stream
        return GeneratorLLMStream(lambda: self._stream(items, offered))

    async def _stream(self, items: list[Any], offered: set[str]) -> AsyncIterator[ChatChunk]:
        text, calls = self.decide(items, offered)
        for i, word in enumerate(text.split(" ") if text else []):
            yield ChatChunk(content=word if i == 0 else " " + word)
        if calls:
            yield ChatChunk(tool_calls=calls)

    # -- the rules ----------------------------------------------------------------------------------
    def decide(self, items: Sequence[Any], offered: set[str]) -> tuple[str, list[FunctionCall]]:
        """The reply to the conversation ``items``: ``(text, tool calls)``."""
        last_user = max((i for i, it in enumerate(items) if _is_role(it, "user")), default=None)
        if last_user is None:
            return "Hello! " + CAPABILITIES, []
        after = items[last_user + 1 :]
        outputs = [it for it in after if isinstance(it, FunctionCallOutput)]
        if outputs and isinstance(items[-1], FunctionCallOutput):
            return " ".join(_answer_from(o) for o in outputs), []
        text = normalize(items[last_user].content)
        previous = _previous_exchange(items, last_user)
        if previous is not None and previous[1] == ASK_BOOKING:
            text = normalize(previous[0]) + " " + text  # the answer to our question completes it
        return self._respond(text, offered)

    def _respond(self, text: str, offered: set[str]) -> tuple[str, list[FunctionCall]]:
        if re.search(r"\b(weather|forecast|temperature|rain|raining|sunny)\b", text):
            city = parse_city(text)
            if city is None:
                return ASK_CITY, []
            return self._call(offered, "get_weather", {"city": city})
        if re.search(r"\b(book|booking|table|reserve|reservation)\b", text):
            guests, time = parse_guests(text), parse_time(text)
            if guests is None or time is None:
                return ASK_BOOKING, []
            return self._call(offered, "book_table", {"guests": guests, "time": time})
        diet = parse_diet(text)
        if diet is not None:
            return self._call(offered, "find_dishes", {"diet": diet})
        if re.search(r"\b(bye|goodbye|that's all|hang up)\b", text):
            return "You're welcome. Goodbye!", []
        if re.search(r"\b(thanks|thank you)\b", text):
            return "You're welcome. Anything else?", []
        if re.search(r"\b(hello|hi|hey)\b", text):
            return "Hello! " + CAPABILITIES, []
        return "Sorry, I can't help with that. " + CAPABILITIES, []

    @staticmethod
    def _call(offered: set[str], name: str, args: dict[str, Any]) -> tuple[str, list[FunctionCall]]:
        if name not in offered:
            return "Sorry, I can't do that right now.", []
        return "", [FunctionCall(name=name, arguments=json.dumps(args))]


def _is_role(item: Any, role: str) -> bool:
    return isinstance(item, ChatMessage) and item.role == role


def _previous_exchange(items: Sequence[Any], last_user: int) -> tuple[str, str] | None:
    """The user message and our text answer just before ``last_user``, if that is how it went."""
    before = items[:last_user]
    if not before or not _is_role(before[-1], "assistant"):
        return None
    user = next((it for it in reversed(before) if _is_role(it, "user")), None)
    return None if user is None else (user.content, before[-1].content)


def _answer_from(output: FunctionCallOutput) -> str:
    """Speak one tool result."""
    try:
        data: Any = json.loads(output.output)
    except ValueError:
        data = None
    detail = output.output.rstrip(".")
    if output.is_error:
        return f"Sorry, that did not work: {detail}."
    try:
        if isinstance(data, dict) and output.name in _ANSWERS:
            return _ANSWERS[output.name](data)
    except (KeyError, TypeError, ValueError):
        pass  # a result of another shape: read it out as it is
    return f"Here is what I found: {detail}."


def _weather_answer(data: dict[str, Any]) -> str:
    return f"It's {data['condition']} and {data['temperature_c']} degrees in {data['city']} today."


def _booking_answer(data: dict[str, Any]) -> str:
    return (
        f"Done: a table for {data['guests']} at {spoken_time(str(data['time']))} tonight. "
        f"Your booking number is {data['booking_number']}."
    )


def _dishes_answer(data: dict[str, Any]) -> str:
    dishes = [str(d) for d in data["dishes"]]
    if not dishes:
        return "Sorry, we have nothing like that tonight."
    kind = "" if data.get("diet") in (None, "any") else f" {data['diet']}"
    return f"Yes, our{kind} dishes tonight are {_join(dishes)}."


_ANSWERS = {"get_weather": _weather_answer, "book_table": _booking_answer, "find_dishes": _dishes_answer}
