"""Flow control's bookkeeping alone (wippy/core/flow.py): a sender's windows and a receiver's
debts, with no socket and no process."""
from __future__ import annotations

import pytest

from wippy.core.flow import (
    CREDIT_BYTES,
    MAILBOX_BYTES,
    MAILBOX_DEFAULT,
    Flow,
    Owed,
    credit_batch,
)
from wippy.errors import MailboxFull, SendBufferFull

pytestmark = pytest.mark.timeout(10)

P = "{app:b/2|7}"
Q = "{app:c/3|1}"


def test_a_sender_may_have_the_default_unread_at_a_process_it_has_not_heard_from():
    flow = Flow()
    for _ in range(MAILBOX_DEFAULT):
        flow.admit(P, 10)
    with pytest.raises(MailboxFull, match=r"process \{app:b/2\|7\} is not keeping up: 10000 messages"):
        flow.admit(P, 10)
    flow.admit(Q, 10)                                  # another destination has its own window
    assert not flow.room(P) and flow.room(Q)


def test_credits_open_the_window_and_teach_the_limit():
    flow = Flow()
    flow.admit(P, 10)
    flow.credit(P, 0, 3)                               # the receiver's limit, told at once
    flow.admit(P, 10)
    flow.admit(P, 10)
    with pytest.raises(MailboxFull, match="its mailbox holds 3"):
        flow.admit(P, 10)
    flow.credit(P, 2, 3)                               # read two of three
    flow.admit(P, 10)
    assert flow.windows[P] == [2, 20]
    flow.credit(P, 2, 3)
    assert P not in flow.windows and flow.limits[P] == 3   # the limit outlives the window


def test_bytes_bound_a_window_but_one_message_of_any_size_may_go():
    flow = Flow()
    flow.admit(P, MAILBOX_BYTES * 2)                   # alone: admitted
    with pytest.raises(SendBufferFull, match="bytes from this OS process are unread"):
        flow.admit(P, 1)
    flow.credit(P, 1, MAILBOX_DEFAULT)
    flow.admit(P, 1)


def test_a_destination_or_an_os_process_that_is_gone_is_forgotten():
    flow = Flow()
    flow.admit(P, 1)
    flow.admit(Q, 1)
    flow.credit(P, 0, 5)
    assert flow.forget_serial(2) == [P]
    assert P not in flow.windows and P not in flow.limits and Q in flow.windows
    flow.forget(Q)
    assert flow.windows == {}


def test_credits_go_back_a_quarter_of_the_limit_at_a_time_never_more_than_a_default_quarter():
    assert credit_batch(10_000) == 2500
    assert credit_batch(100) == 25
    assert credit_batch(1) == 1
    assert credit_batch(1_000_000) == MAILBOX_DEFAULT // 4


def test_a_receiver_credits_what_was_read_to_whoever_sent_it_in_arrival_order():
    owed = Owed(taken=0)
    for _ in range(3):
        owed.arrived(5, 100)
    owed.arrived(-1, 0)                                # a local message: nobody to credit
    for _ in range(2):
        owed.arrived(6, 100)
    owed.read(4)                                       # 5's three and the local one
    assert owed.ripe(3) == [(5, 3)]
    assert owed.ripe(1) == []
    owed.read(1)
    assert owed.ripe(1) == [(6, 1)]
    assert owed.settle() == [(6, 1)]                   # gone: the unread one is credited too
    assert not owed.runs and not owed.due


def test_a_receiver_credits_big_messages_by_their_bytes():
    owed = Owed(taken=0)
    size = CREDIT_BYTES // 2
    for _ in range(3):
        owed.arrived(5, size)
    owed.read(1)
    assert owed.ripe(100) == []
    owed.read(1)
    assert owed.ripe(100) == [(5, 2)]                  # a quarter of a window's bytes read


def test_a_late_sender_is_not_starved_by_an_early_one_that_keeps_sending():
    owed = Owed(taken=0)
    owed.arrived(5, 1)
    owed.arrived(6, 1)                                 # 6's message is older than 5's next ones
    owed.arrived(5, 1)
    owed.arrived(5, 1)
    owed.read(2)
    assert sorted(owed.ripe(1)) == [(5, 1), (6, 1)]
