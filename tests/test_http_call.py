"""A request's state on the handler's side (:class:`wippy.http.call.HttpCall`): where its
answer goes, and what it refuses. Pure logic: the mesh is a recorder."""
from __future__ import annotations

from typing import Any

import pytest

from wippy.core import wire
from wippy.http import frames
from wippy.http.call import HttpCall

pytestmark = pytest.mark.timeout(10)


class Recorder:
    """Stands in for the mesh: keeps what would be sent, by OS process serial."""

    def __init__(self) -> None:
        self.sent: list[tuple[int, Any]] = []

    def send(self, serial: int, data: bytes) -> None:
        self.sent.append((serial, wire.loads(data)))


def _request(reply_to: str) -> frames.Request:
    return frames.parse_request(frames.request("GET", "/x", "", {}, b"", {}, "127.0.0.1:1",
                                               reply_to, "app:x.ep", "app:x"))


@pytest.mark.parametrize("reply_to, serial, local", [
    ("{app:gw/7|12}", 7, "12"),
    ("{app:a/b/31|4}", 31, "4"),         # a slash in the service id is not the serial's
])
def test_the_answer_goes_to_the_requests_own_pid(reply_to: str, serial: int,
                                                 local: str) -> None:
    mesh = Recorder()
    call = HttpCall(_request(reply_to), "{app:h/2|9}", mesh)   # type: ignore[arg-type]  # a recorder
    call.write("hi")
    call.finish()
    [(to, frame)] = mesh.sent
    assert to == serial
    assert frame[:4] == (wire.Op.MSG, local, "{app:h/2|9}", frames.TOPIC)
    assert frame[4] == frames.start(200, [], b"hi", True)


@pytest.mark.parametrize("reply_to", ["nope", "{app:gw|12}", "{app:gw/x|12}", "{app:gw/7|}",
                                      "app:gw/7|12"])
def test_a_reply_to_that_is_no_pid_is_refused(reply_to: str) -> None:
    with pytest.raises(ValueError, match="not a PID"):
        HttpCall(_request(reply_to), "{app:h/2|9}", Recorder())   # type: ignore[arg-type]  # a recorder
