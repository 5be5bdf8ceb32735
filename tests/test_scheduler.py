"""The scheduler and channels as pure logic: coroutines driven by hand, no sockets, no clock."""
from __future__ import annotations

import pytest

from wippy import channel
from wippy.errors import ChannelClosed
from wippy.runtime import scheduler


def run(*coros):
    """Drive coroutines on the process's scheduler until none is ready; return their results."""
    sched = scheduler.get()
    results: dict[int, object] = {}

    def done(task, value, exc):
        results[id(task)] = exc if exc is not None else value

    tasks = [sched.start(c, None, done) for c in coros]
    for _ in range(10_000):
        if not sched.ready:
            break
        sched.run_ready()
    return [results.get(id(t), "<blocked>") for t in tasks]


def test_unbuffered_send_waits_for_a_receiver():
    ch = channel.new()
    log = []

    async def sender():
        await ch.send(1)
        log.append("sent")

    async def receiver():
        log.append("receiving")
        return await ch.receive()

    assert run(sender(), receiver()) == [None, 1]
    assert log == ["receiving", "sent"]


def test_buffered_channel_blocks_only_when_full():
    ch = channel.new(2)

    async def sender():
        for i in range(3):
            await ch.send(i)
        return "all sent"

    assert run(sender()) == ["<blocked>"]
    assert len(ch) == 2


def test_receive_on_closed_and_drained_channel_raises():
    ch = channel.new(1)

    async def go():
        await ch.send("last")
        ch.close()
        first = await ch.receive()
        try:
            await ch.receive()
        except ChannelClosed:
            return first, "closed"

    assert run(go()) == [("last", "closed")]


def test_close_wakes_blocked_receivers_with_channel_closed():
    ch = channel.new()

    async def waiter():
        with pytest.raises(ChannelClosed):
            await ch.receive()
        return "woken"

    async def closer():
        ch.close()

    assert run(waiter(), closer()) == ["woken", None]


def test_select_takes_the_first_ready_case_in_order():
    a, b = channel.new(1), channel.new(1)

    async def go():
        await a.send("a")
        await b.send("b")
        r = await channel.select(b.case_receive(), a.case_receive())
        return r.channel is b, r.value

    assert run(go()) == [(True, "b")]


def test_select_default_never_blocks():
    a = channel.new()

    async def go():
        r = await channel.select(a.case_receive(), default=True)
        return r.default

    assert run(go()) == [True]


def test_select_send_case_fires_exactly_once():
    a, b = channel.new(), channel.new()

    async def selector():
        r = await channel.select(a.case_send(1), b.case_send(2))
        return r.channel is a

    async def receiver():
        return await a.receive()

    assert run(selector(), receiver()) == [True, 1]
    # b's pending send was voided, so a receiver on b finds nothing
    assert b.receive_nowait() == (None, False)


def test_killed_task_does_not_consume_values():
    sched = scheduler.get()
    ch = channel.new()

    async def victim():
        return await ch.receive()

    t = sched.start(victim(), None)
    sched.run_ready()
    sched.kill(t)
    assert ch.send_nowait("x") is False    # the dead receiver's wait was voided
    assert ch.receive_nowait() == (None, False)


def test_timers_fire_in_deadline_order():
    sched = scheduler.get()
    fired = []
    now = scheduler.monotonic()
    sched.call_at(now - 1, fired.append, "second")
    sched.call_at(now - 2, fired.append, "first")
    h = sched.call_at(now - 3, fired.append, "cancelled")
    h.cancel()
    sched.fire_due()
    assert fired == ["first", "second"]


def test_cancelled_timers_do_not_pin_memory_until_their_deadline():
    sched = scheduler.get()
    far = scheduler.monotonic() + 3600
    handles = [sched.call_at(far, lambda: None) for _ in range(5000)]
    for h in handles:
        h.cancel()
    assert len(sched._timers) < 2000


def test_select_result_names_the_case_that_fired():
    a = channel.new(1)

    async def go():
        await a.send(1)
        r = await channel.select(a.case_send(2), a.case_receive())
        return r.index, r.value

    assert run(go()) == [(1, 1)]
