"""kajitori.api.duration: the AGE wording of apimachinery's HumanDuration."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from kajitori.api import duration

MINUTE = 60
HOUR = 60 * MINUTE
DAY = 24 * HOUR
YEAR = 365 * DAY


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (-3, "<invalid>"),
        (-2, "<invalid>"),
        (-1.9, "0s"),
        (-1, "0s"),
        (-0.5, "0s"),
        (0, "0s"),
        (0.9, "0s"),
        (1, "1s"),
        (45, "45s"),
        (119.9, "119s"),
        (2 * MINUTE, "2m"),
        (3 * MINUTE + 12, "3m12s"),
        (9 * MINUTE + 59, "9m59s"),
        (10 * MINUTE, "10m"),
        (12 * MINUTE + 30, "12m"),
        (3 * HOUR - 1, "179m"),
        (3 * HOUR, "3h"),
        (5 * HOUR + 3 * MINUTE + 59, "5h3m"),
        (8 * HOUR - 1, "7h59m"),
        (8 * HOUR, "8h"),
        (47 * HOUR + 59 * MINUTE, "47h"),
        (2 * DAY, "2d"),
        (3 * DAY, "3d"),
        (3 * DAY + 4 * HOUR, "3d4h"),
        (8 * DAY - 1, "7d23h"),
        (8 * DAY, "8d"),
        (2 * YEAR - 1, "729d"),
        (2 * YEAR, "2y"),
        (2 * YEAR + 45 * DAY, "2y45d"),
        (8 * YEAR - 1, "7y364d"),
        (8 * YEAR, "8y"),
        (9 * YEAR + 100 * DAY, "9y"),
    ],
)
def test_human_duration_matches_apimachinery(seconds: float, expected: str) -> None:
    assert duration.human_duration(seconds) == expected


NOW = datetime(2026, 11, 25, 15, 30, 0, tzinfo=UTC)


def test_age_of_missing_timestamp_is_unknown() -> None:
    assert duration.age(None, now=NOW) == "<unknown>"
    assert duration.age("", now=NOW) == "<unknown>"


def test_age_counts_from_now() -> None:
    assert duration.age("2026-11-25T15:26:48Z", now=NOW) == "3m12s"


def test_age_reads_offsets_and_fractions() -> None:
    assert duration.age("2026-11-25T16:29:15.250000+01:00", now=NOW) == "44s"


def test_age_slightly_in_the_future_is_zero() -> None:
    assert duration.age("2026-11-25T15:30:01Z", now=NOW) == "0s"
    assert duration.age("2026-11-25T15:30:05Z", now=NOW) == "<invalid>"
