"""Host restart backoff under the implicit root: a pure decision driven by a fake clock."""
from __future__ import annotations

import pytest

from wippy.supervision.backoff import HostBackoff, host_restart_delay

pytestmark = pytest.mark.timeout(10)


def deaths_at(times, policy=HostBackoff()):
    deaths, delays = (), []
    for t in times:
        deaths, delay = host_restart_delay(deaths, t, policy)
        delays.append(delay)
    return deaths, delays


def test_a_first_death_restarts_at_once():
    assert host_restart_delay((), 100.0) == ((100.0,), 0.0)


def test_repeated_deaths_within_the_window_double_the_delay_up_to_the_cap():
    _, delays = deaths_at([100 + i * 0.001 for i in range(10)])
    assert delays == [0.0, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.0, 1.0]


def test_deaths_older_than_the_window_no_longer_count():
    deaths, delays = deaths_at([100.0, 100.5, 101.4, 103.0])
    assert delays == [0.0, 0.01, 0.01, 0.0]        # 100.0 left the window at 101.0
    assert deaths == (103.0,)


def test_the_policy_sets_window_first_delay_and_cap():
    policy = HostBackoff(window=10.0, first=1.0, cap=3.0)
    _, delays = deaths_at([0, 1, 2, 3, 4], policy)
    assert delays == [0.0, 1.0, 2.0, 3.0, 3.0]
