"""The table behind ``queue.driver.sql`` (SQLite, no processes): a claim hides a row for the
visibility timeout, the claim's token guards ack and nack (a stale delivery cannot settle the
row another delivery claimed), nack brings the row back after its delay, extend keeps it."""
from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from wippy.resources.databases import Database
from wippy.resources.pool import Pool
from wippy.resources.sqldrivers import SQLITE
from wippy.resources.sqlqueue import SqlQueue

pytestmark = pytest.mark.timeout(10)


class _Db(Database):
    async def run(self, sql: str, params: list[Any], rows: bool, prepare: bool = False) -> Any:
        return self.run_blocking(sql, params, rows, prepare)      # no host loop here


def _queue(tmp_path: Any, visibility: float) -> SqlQueue:
    path = str(tmp_path / "q.db")
    pool = Pool("app:db", lambda: SQLITE.connect(path), SQLITE.close, 1, 1)
    SqlQueue._made.clear()
    q = SqlQueue(_Db("app:db", SQLITE, pool, "k", 1), "wq", "app:jobs", visibility)
    asyncio.run(q.ensure())
    return q


def test_a_claimed_row_is_hidden_and_a_stale_claim_cannot_settle_it(tmp_path: Any) -> None:
    q = _queue(tmp_path, visibility=0.2)

    async def go() -> None:
        await q.publish({"n": 1}, {"k": "v"})
        first = await q.claim()
        assert first is not None and first.body == {"n": 1} and first.headers == {"k": "v"}
        assert first.attempts == 1
        assert await q.claim() is None                  # hidden while claimed
        assert (await q.stats())["in_flight"] == 1
        while (second := await q.claim()) is None:      # the visibility timeout passes
            await asyncio.sleep(0.02)
        assert second.attempts == 2 and second.claim != first.claim
        assert await q.ack(first) is False              # the stale delivery changes nothing
        assert await q.nack(first) is False
        assert await q.ack(second) is True
        assert (await q.stats())["message_count"] == 0
    asyncio.run(go())


def test_nack_brings_the_row_back_after_its_delay_and_extend_keeps_a_claim(tmp_path: Any) -> None:
    q = _queue(tmp_path, visibility=30)

    async def visible_at() -> float:
        return float((await q.db.run("SELECT visible_at FROM wq", [], True))[0]["visible_at"])

    async def go() -> None:
        await q.publish("a")
        msg = await q.claim()
        assert msg is not None
        assert await q.nack(msg) is True
        assert (await q.stats())["ready"] == 0          # waiting out its 50 ms delay
        while (again := await q.claim()) is None:
            await asyncio.sleep(0.01)
        assert again.attempts == 2
        hidden = await visible_at()
        assert hidden > time.time() + 25                # hidden for the visibility timeout
        assert await q.extend(again) is True
        assert await visible_at() > hidden              # pushed further by its delivery
        assert await q.ack(again) is True
        assert await q.extend(again) is False           # settled: nothing to keep
    asyncio.run(go())
