"""Deadline arithmetic of the worklist (SPEC X-3): due dates counted from submission, the clock
stopped while the case waits for the applicant, overdue at a given moment, deadlines as data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from backoffice_service.deadlines import (
    Deadline,
    Deadlines,
    DeadlinesInvalid,
    age_days,
    due_base,
    due_by,
    is_overdue,
    pauses,
)

RECEIVED = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
CERTIFICATE = Deadline("certificate", 50, frozenset({"awaiting_applicant"}), "")


def day(n: float) -> datetime:
    return RECEIVED + timedelta(days=n)


def test_the_packaged_deadlines_give_citizens_applications_50_days_x3():
    deadlines = Deadlines.load()
    assert deadlines["request"].days == 50  # ν. 2690/1999 art. 4
    assert deadlines["certificate"].days == 50
    assert deadlines["certificate"].paused_by == {"awaiting_applicant"}
    assert deadlines["protocol_registration"].days == 1
    assert deadlines["fine"].days == 60
    assert deadlines["tax_declaration"].days == 1  # filed automatically on the day it is paid
    assert "2690/1999" in deadlines["request"].basis


def test_the_deadlines_file_can_be_replaced_and_a_kind_may_have_no_deadline(tmp_path):
    path = tmp_path / "deadlines.toml"
    path.write_text(
        "[request]\ndays = 30\n[certificate]\ndays = 20\npaused_by = ['awaiting_applicant']\n"
        "[protocol_registration]\ndays = 2\n[fine]\n[tax_declaration]\ndays = 3\n",
        encoding="utf-8",
    )
    deadlines = Deadlines.load(path)
    assert deadlines["request"].days == 30
    assert deadlines["fine"].days is None
    assert due_base(RECEIVED, deadlines["fine"], pauses([], frozenset())) is None


@pytest.mark.parametrize(
    "raw", ["[request]\ndays = 50\n", "[request]\ndays = 'fifty'\n", "not toml ["]
)
def test_an_invalid_deadlines_file_is_refused(raw):
    with pytest.raises(DeadlinesInvalid):
        Deadlines.parse(raw)


def test_due_date_is_counted_from_submission():
    assert due_base(RECEIVED, CERTIFICATE, pauses([("submitted", RECEIVED)], frozenset())) == day(
        50
    )


def test_time_waiting_for_the_applicant_is_added_to_the_due_date():
    history = [
        ("submitted", RECEIVED),
        ("awaiting_applicant", day(10)),
        ("awaiting_applicant", day(12)),  # a second change within the pause: one pause
        ("under_review", day(15)),
        ("awaiting_applicant", day(20)),
        ("under_review", day(22.5)),
    ]
    paused = pauses(history, CERTIFICATE.paused_by)
    assert (paused.ended, paused.since) == (timedelta(days=7.5), None)
    assert due_base(RECEIVED, CERTIFICATE, paused) == day(57.5)


def test_a_pause_going_on_moves_the_due_date_with_the_clock():
    paused = pauses(
        [("submitted", RECEIVED), ("awaiting_applicant", day(10))], {"awaiting_applicant"}
    )
    base = due_base(RECEIVED, CERTIFICATE, paused)
    assert (base, paused.since) == (day(50), day(10))
    assert due_by(base, paused.since, as_of=day(5)) == day(50)  # before the pause: no shift
    assert due_by(base, paused.since, as_of=day(30)) == day(70)
    assert due_by(base, paused.since, as_of=day(100)) == day(140)
    # Waiting for the citizen, the case never becomes overdue.
    assert not is_overdue(True, due_by(base, paused.since, day(100)), day(100))


def test_overdue_at_as_of_only_when_open_and_past_the_due_date():
    due = day(50)
    assert not is_overdue(True, due, as_of=day(50))
    assert is_overdue(True, due, as_of=day(50) + timedelta(seconds=1))
    assert not is_overdue(False, due, as_of=day(80))  # closed
    assert not is_overdue(True, None, as_of=day(80))  # no deadline


def test_a_pause_ending_with_the_case_closed_stops_counting():
    history = [("submitted", RECEIVED), ("awaiting_applicant", day(10)), ("rejected", day(13))]
    paused = pauses(history, CERTIFICATE.paused_by)
    assert (paused.ended, paused.since) == (timedelta(days=3), None)


def test_age_in_days_never_negative():
    assert age_days(RECEIVED, day(6.5)) == 6.5
    assert age_days(RECEIVED, day(-1)) == 0
