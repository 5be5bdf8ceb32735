"""Pure decisions of process.service restarts (Wippy's rule outside a supervisor)."""
from __future__ import annotations

import pytest

from wippy.supervision.services import (
    RestartPolicy,
    backoff_delay,
    service_spec,
    should_restart,
    start_levels,
)


def test_backoff_grows_exponentially_and_is_capped():
    p = RestartPolicy(initial_delay=1.0, max_delay=5.0, backoff_factor=2.0, jitter=0.0)
    assert [backoff_delay(p, n, 0.5) for n in range(5)] == [1.0, 2.0, 4.0, 5.0, 5.0]


def test_jitter_stays_within_its_fraction():
    p = RestartPolicy(initial_delay=1.0, jitter=0.1)
    assert backoff_delay(p, 0, 0.0) == pytest.approx(0.9)
    assert backoff_delay(p, 0, 0.999999) == pytest.approx(1.1, abs=1e-5)


def test_normal_exit_is_not_restarted_and_failures_are_within_max_attempts():
    assert should_restart(RestartPolicy(), failed=False, attempts_so_far=0) is False
    assert should_restart(RestartPolicy(max_attempts=0), failed=True, attempts_so_far=1000) is True
    assert should_restart(RestartPolicy(max_attempts=3), failed=True, attempts_so_far=2) is True
    assert should_restart(RestartPolicy(max_attempts=3), failed=True, attempts_so_far=3) is False


def test_start_levels_follow_dependencies_and_detect_cycles():
    assert start_levels({"a": (), "b": ("a",), "c": ("a",), "d": ("b", "c")}) == [["a"], ["b", "c"], ["d"]]
    with pytest.raises(ValueError, match="cycle"):
        start_levels({"a": ("b",), "b": ("a",)})


def test_service_spec_uses_wippy_defaults():
    spec = service_spec({"id": "app:s", "data": {"process": "app:p", "host": "app:h", "input": {"k": 1}}})
    assert spec.input == [{"k": 1}] and spec.auto_start is False
    assert (spec.start_timeout, spec.stop_timeout, spec.stable_threshold) == (10.0, 10.0, 5.0)
    assert spec.restart == RestartPolicy(1.0, 90.0, 2.0, 0.1, 0)
