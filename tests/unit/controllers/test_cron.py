"""Cron schedules as robfig/cron v3 reads them: fields, descriptors, zones, and its errors."""

from __future__ import annotations

import datetime

import pytest

from kajitori.controllers import cron

UTC = datetime.UTC
T0 = datetime.datetime(2024, 1, 1, 10, 0, 30, tzinfo=UTC)  # a Monday


@pytest.mark.parametrize(("spec", "expected"), [
    ("* * * * *", datetime.datetime(2024, 1, 1, 10, 1, tzinfo=UTC)),
    ("*/5 * * * *", datetime.datetime(2024, 1, 1, 10, 5, tzinfo=UTC)),
    ("0 0 1 1 *", datetime.datetime(2025, 1, 1, tzinfo=UTC)),
    ("@hourly", datetime.datetime(2024, 1, 1, 11, 0, tzinfo=UTC)),
    ("@weekly", datetime.datetime(2024, 1, 7, tzinfo=UTC)),
    ("@daily", datetime.datetime(2024, 1, 2, tzinfo=UTC)),
    ("0 9 * * mon-fri", datetime.datetime(2024, 1, 2, 9, 0, tzinfo=UTC)),
    ("30 6-16/4 * * 1-5", datetime.datetime(2024, 1, 1, 10, 30, tzinfo=UTC)),
    ("@every 90s", datetime.datetime(2024, 1, 1, 10, 2, tzinfo=UTC)),
    # Both day fields restricted: either matches (the 5th is a Friday).
    ("0 0 13 * 5", datetime.datetime(2024, 1, 5, tzinfo=UTC)),
    # A step other than 1 makes the field restricted, so Friday alone does not suffice.
    ("0 0 */2 * 5", datetime.datetime(2024, 1, 3, tzinfo=UTC)),
])
def test_next_activation(spec: str, expected: datetime.datetime) -> None:
    assert cron.parse_standard(spec).next(T0) == expected


def test_zone_prefix_computes_in_that_zone_and_answers_in_the_callers() -> None:
    schedule = cron.parse_standard("TZ=Europe/Paris 0 9 * * *")
    assert schedule.next(T0) == datetime.datetime(2024, 1, 2, 8, 0, tzinfo=UTC)


def test_time_skipped_by_dst_is_skipped() -> None:
    new_york = cron.load_location("America/New_York")
    schedule = cron.parse_standard("30 2 * * *")
    found = schedule.next(datetime.datetime(2024, 3, 9, 12, 0, tzinfo=new_york))
    assert found == datetime.datetime(2024, 3, 11, 2, 30, tzinfo=new_york)


def test_impossible_date_never_fires() -> None:
    assert cron.parse_standard("0 0 30 2 *").next(T0) is None


@pytest.mark.parametrize(("spec", "message"), [
    ("", "empty spec string"),
    ("* * *", "expected exactly 5 fields, found 3: [* * *]"),
    ("61 * * * *", "end of range (61) above maximum (59): 61"),
    ("5-1 * * * *", "beginning of range (5) beyond end of range (1): 5-1"),
    ("@foo", "unrecognized descriptor: @foo"),
    ("*/0 * * * *", "step of range should be a positive number: */0"),
    ("a * * * *", 'failed to parse int from a: strconv.Atoi: parsing "a": invalid syntax'),
    ("TZ=Nope/X * * * *", "provided bad location Nope/X: unknown time zone Nope/X"),
    ("@every x", 'failed to parse duration @every x: time: invalid duration "x"'),
])
def test_parse_errors_are_robfigs(spec: str, message: str) -> None:
    with pytest.raises(cron.ParseError) as raised:
        cron.parse_standard(spec)
    assert str(raised.value) == message
