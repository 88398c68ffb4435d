from __future__ import annotations

import asyncio

from livekitex_agent.events import EventEmitter


async def test_emitter_sync_async_once_off_and_failing_handlers() -> None:
    em: EventEmitter[str] = EventEmitter()
    seen: list[str] = []

    @em.on("x")
    def first(v: str) -> None:
        seen.append(f"first:{v}")

    def broken(v: str) -> None:
        raise ValueError("handler bug")

    async def later(v: str) -> None:
        await asyncio.sleep(0)
        seen.append(f"async:{v}")

    em.on("x", broken)
    em.on("x", later)
    em.once("x", lambda v: seen.append(f"once:{v}"))
    em.emit("x", "1")
    em.emit("x", "2")
    em.off("x", first)
    em.emit("x", "3")
    await em.aclose_handlers()
    assert seen == ["first:1", "once:1", "first:2", "async:1", "async:2", "async:3"]
