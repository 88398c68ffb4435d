from __future__ import annotations

import tracemalloc

import pytest

from livekitex_agent.chat import ChatContext, ChatMessage, FunctionCall, FunctionCallOutput, item_tokens


def test_trimming_keeps_instructions_and_newest_items() -> None:
    ctx = ChatContext(max_items=5)
    ctx.set_instructions("be nice")
    for i in range(20):
        ctx.add_message("user", f"u{i}")
    assert len(ctx) == 5
    assert ctx.items[0].id == "instructions" and ctx.instructions == "be nice"
    assert [m.content for m in ctx.messages()[1:]] == ["u16", "u17", "u18", "u19"]
    assert ctx.trimmed_count == 16


def test_trimming_never_leaves_a_result_without_its_call() -> None:
    ctx = ChatContext(max_items=4)
    ctx.set_instructions("sys")
    call_a = FunctionCall("a", "{}")
    call_b = FunctionCall("b", "{}")
    ctx.extend([ChatMessage("user", "hi"), call_a, call_b])
    ctx.extend([FunctionCallOutput(call_a.call_id, "a", "ra"), FunctionCallOutput(call_b.call_id, "b", "rb")])
    ctx.add_message("assistant", "done")
    calls = {i.call_id for i in ctx.items if isinstance(i, FunctionCall)}
    for item in ctx.items:
        if isinstance(item, FunctionCallOutput):
            assert item.call_id in calls, f"orphan output {item} in {ctx.items}"
    assert ctx.items[0].id == "instructions"
    assert ctx.items[-1].content == "done"  # type: ignore[union-attr]


def test_token_budget_and_in_place_updates() -> None:
    ctx = ChatContext(max_tokens=100)
    ctx.set_instructions("x" * 40)
    for _ in range(50):
        ctx.add_message("user", "y" * 80)
    assert ctx.token_estimate <= 100
    assert ctx.items[0].id == "instructions"
    msg = ctx.items[-1]
    assert isinstance(msg, ChatMessage)
    before = ctx.token_estimate
    msg.content = "short"
    ctx.update_item(msg)
    assert ctx.token_estimate == sum(item_tokens(i) for i in ctx.items) < before


def test_bad_bounds_and_roles_are_rejected() -> None:
    with pytest.raises(ValueError, match="max_items"):
        ChatContext(max_items=1)
    with pytest.raises(ValueError, match="role"):
        ChatContext().add_message("robot", "hi")  # type: ignore[arg-type]


def test_ten_thousand_turns_in_bounded_memory() -> None:
    ctx = ChatContext(max_items=200)
    ctx.set_instructions("sys")
    tracemalloc.start()
    for i in range(1000):
        ctx.add_message("user", f"question {i} " * 5)
        ctx.add_message("assistant", f"answer {i} " * 5)
    first, _ = tracemalloc.get_traced_memory()
    for i in range(9000):
        ctx.add_message("user", f"question {i} " * 5)
        ctx.add_message("assistant", f"answer {i} " * 5)
    second, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert 180 <= len(ctx) <= 200  # trimmed in batches down to 90 % of the bound
    assert second - first < 200_000, f"history grew by {second - first} bytes over 9000 more turns"
