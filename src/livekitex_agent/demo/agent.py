"""The example agent of the demo: a restaurant's phone concierge with three function tools."""

from __future__ import annotations

import re
from typing import Literal

from ..agent import Agent
from ..errors import ToolError
from ..tools import function_tool

GREETING = "Hello, thanks for calling Bistro Lumen. How can I help you?"

INSTRUCTIONS = """\
You are the phone concierge of Bistro Lumen, a small restaurant. Your answers are spoken aloud on a
phone call: one or two short sentences, no lists, no markdown.
Use the tools: get_weather for weather questions (city name only, e.g. "Paris"); book_table to book
(guests as a number, time in 24-hour HH:MM, evening by default, e.g. "eight tonight" is "20:00");
find_dishes for menu questions (diet: vegetarian, vegan, gluten-free or any).
When the caller says goodbye, say goodbye briefly."""

# Canned data: the demo runs offline and its answers are reproducible.
WEATHER = {
    "paris": ("sunny", 22),
    "london": ("rainy", 14),
    "berlin": ("cloudy", 17),
    "new york": ("windy", 19),
    "tokyo": ("clear", 25),
}
DISHES = {
    "vegetarian": ["mushroom risotto", "ratatouille", "a goat cheese salad"],
    "vegan": ["ratatouille", "a lentil curry"],
    "gluten-free": ["grilled salmon", "ratatouille"],
    "any": ["steak frites", "grilled salmon", "mushroom risotto"],
}
Diet = Literal["vegetarian", "vegan", "gluten-free", "any"]
_TIME_RE = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
OPENING, CLOSING = (12, 0), (22, 0)  # last booking


class BistroConcierge(Agent):
    """Answers the phone: weather, table bookings, the menu. Bookings are kept in ``self.bookings``."""

    def __init__(self, *, greet: bool = True) -> None:
        super().__init__(INSTRUCTIONS)
        self.greet = greet
        self.bookings: list[dict[str, object]] = []
        self._next_booking = 417

    async def on_enter(self) -> None:
        if self.greet:
            self.session.say(GREETING)

    @function_tool
    async def get_weather(self, city: str) -> dict[str, object]:
        """Today's weather for a city.

        Args:
            city: the city name, e.g. "Paris"
        """
        found = WEATHER.get(city.strip().lower())
        if found is None:
            raise ToolError(f"no weather data for {city!r}; known cities: {', '.join(sorted(WEATHER))}")
        condition, celsius = found
        return {"city": city.strip().title(), "condition": condition, "temperature_c": celsius}

    @function_tool
    async def book_table(self, guests: int, time: str) -> dict[str, object]:
        """Book a table for tonight.

        Args:
            guests: number of people, 1 to 12
            time: arrival time, 24-hour "HH:MM" (e.g. "20:00")
        """
        if not 1 <= guests <= 12:
            raise ToolError(f"we take bookings for 1 to 12 guests, not {guests}")
        match = _TIME_RE.match(time.strip())
        if match is None:
            raise ToolError(f"time must be HH:MM on a 24-hour clock, got {time!r}")
        hour, minute = int(match.group(1)), int(match.group(2))
        if not OPENING <= (hour, minute) <= CLOSING:
            raise ToolError(f"we take bookings from 12:00 to 22:00, not {time}")
        booking: dict[str, object] = {
            "booking_number": self._next_booking,
            "guests": guests,
            "time": f"{hour:02d}:{minute:02d}",
        }
        self._next_booking += 1
        self.bookings.append(booking)
        return booking

    @function_tool
    async def find_dishes(self, diet: Diet = "any") -> dict[str, object]:
        """Dishes on tonight's menu that suit a diet.

        Args:
            diet: vegetarian, vegan, gluten-free or any
        """
        return {"diet": diet, "dishes": DISHES[diet]}
