"""The control protocol: one constructor and one typed view per kind, plain ints on the wire,
and a dispatcher that drops (never raises on) what it does not know."""
from __future__ import annotations

import logging
import pickle

import pytest

from wippy.core import protocol, wire
from wippy.core.protocol import Kind, ReqOp

pytestmark = pytest.mark.timeout(30)

EXAMPLES = {
    Kind.READY: (protocol.ready(3, 1234), protocol.Ready(3, 1234)),
    Kind.HELLO: (protocol.hello(), protocol.Hello()),
    Kind.BYE: (protocol.bye(), protocol.Bye()),
    Kind.REQUEST: (protocol.request(7, ReqOp.WF_STEPS, ("wf1", [(0, {"r": 1})])),
                   protocol.Request(7, ReqOp.WF_STEPS, ("wf1", [(0, {"r": 1})]))),
    Kind.ACK: (protocol.ack(9), protocol.Ack(9)),
    Kind.RELEASE: (protocol.release("{a/1|2}", ["n"]), protocol.Release("{a/1|2}", ["n"])),
    Kind.LOAD: (protocol.load(2, 40), protocol.Load(2, 40)),
    Kind.PS_REPLY: (protocol.ps_reply(4, {"serial": 2}), protocol.PsReply(4, {"serial": 2})),
    Kind.STARTED: (protocol.started("{a/1|2}"), protocol.Started("{a/1|2}")),
    Kind.STOPPED: (protocol.stopped(2), protocol.Stopped(2)),
    Kind.EVENT: (protocol.event("s", "k", "p", {"x": 1}), protocol.Event("s", "k", "p", {"x": 1})),
    Kind.WELCOME: (protocol.welcome({"a": [1]}, {1: 0}, {"n": "{a/1|2}"}, [5], serial=6,
                                    node_pid="{node/0|0}", store="/s"),
                   protocol.Welcome(6, {"a": [1]}, {1: 0}, {"n": "{a/1|2}"}, [5], "{node/0|0}", "/s")),
    Kind.REPLY: (protocol.reply(7, True, 42), protocol.Reply(7, True, 42)),
    Kind.NAME: (protocol.name("n", None), protocol.Name("n", None, None)),
    Kind.TOPOLOGY: (protocol.topology({"a": [1, 2]}), protocol.Topology({"a": [1, 2]})),
    Kind.LOADS: (protocol.loads({1: 3}), protocol.Loads({1: 3})),
    Kind.HOST_DOWN: (protocol.host_down(2, "killed by SIGKILL"), protocol.HostDown(2, "killed by SIGKILL")),
    Kind.REGISTRY: (protocol.registry(3, [("entry.create", "a:b", None)]),
                    protocol.Registry(3, [("entry.create", "a:b", None)])),
    Kind.PS: (protocol.ps(4), protocol.Ps(4)),
    Kind.STOP: (protocol.stop(10, "node stopping"), protocol.Stop(10.0, "node stopping")),
}


def test_every_kind_has_an_example():
    assert set(EXAMPLES) == set(Kind)


@pytest.mark.parametrize("kind", list(Kind), ids=lambda k: k.name)
def test_each_message_survives_the_wire_as_its_typed_view(kind):
    message, view = EXAMPLES[kind]
    decoded = wire.loads(wire.dumps(message))
    assert decoded[0] == kind
    assert protocol.parse(decoded) == view
    assert type(protocol.parse(decoded)) is type(view)


def test_kinds_and_ops_travel_as_plain_ints():
    """An enum member pickles as a call to its class: slower and longer."""
    message = protocol.request(1, ReqOp.REGISTER, ("n", "{a/1|2}"))
    assert type(message[0]) is int and type(message[2]) is int
    assert b"protocol" not in pickle.dumps(message, 5)
    assert protocol.parse(message).op is ReqOp.REGISTER


def test_a_host_frame_wraps_a_message_as_a_ctl_frame():
    frame = protocol.ctl_frame(protocol.ps(1))
    assert frame[0] == wire.Op.CTL and protocol.parse(frame[1]) == protocol.Ps(1)


def test_request_ops_are_found_by_their_names():
    assert ReqOp.of("registry_apply") is ReqOp.REGISTRY_APPLY
    assert ReqOp.of(ReqOp.PS) is ReqOp.PS
    assert ReqOp.of(int(ReqOp.WF_DONE)) is ReqOp.WF_DONE
    with pytest.raises(ValueError, match="unknown request 'nope'"):
        ReqOp.of("nope")


def test_an_op_this_version_does_not_know_parses_as_its_raw_value():
    assert protocol.parse((int(Kind.REQUEST), 1, 999, ())).op == 999


def test_runtime_notifications_map_to_their_messages():
    assert protocol.notification("started", "{a/1|2}") == protocol.started("{a/1|2}")
    assert protocol.notification("release", "{a/1|2}", ["n"]) == protocol.release("{a/1|2}", ["n"])
    with pytest.raises(ValueError):
        protocol.notification("nope")


@pytest.mark.parametrize("bad", [("req", 1, "ps"), (), None, 5, (999,), (int(Kind.NAME), "only-one")])
def test_parse_refuses_what_is_not_a_control_message(bad):
    with pytest.raises(protocol.BadFrame):
        protocol.parse(bad)


def test_the_dispatcher_calls_the_handler_of_the_kind_with_the_sender_first():
    got = []
    dispatch = protocol.sender_dispatcher({Kind.ACK: lambda who, f: got.append((who, f))},
                                          logging.getLogger("test"), "test")
    dispatch(b"h1", protocol.ack(3))
    assert got == [(b"h1", protocol.Ack(3))]


@pytest.mark.parametrize("bad", [("req", 1, "ps"), (), None, protocol.ps(1), (int(Kind.ACK),)])
def test_the_dispatcher_logs_and_drops_unknown_unexpected_and_malformed_messages(bad, caplog):
    dispatch = protocol.dispatcher({Kind.ACK: lambda f: pytest.fail("called")},
                                   logging.getLogger("test.dispatch"), "test")
    with caplog.at_level(logging.WARNING, logger="test.dispatch"):
        dispatch(bad)
    assert "dropped" in caplog.text
