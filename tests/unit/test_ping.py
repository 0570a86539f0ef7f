from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

import pytest
from cloudevents.http import CloudEvent

from rlarena.errors import ConfigurationError
from rlarena.platform.manifests import PingSource
from rlarena.platform.ping import CronSchedule, PingTimer, ping_event


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0, *, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def source(name: str = "matchmaker-tick", schedule: str = "* * * * *", **changes: str) -> PingSource:
    fields = {
        "name": name,
        "namespace": "rlarena",
        "schedule": schedule,
        "content_type": "application/json",
        "data": '{"reason": "matchmaking tick"}',
        "sink_kind": "Broker",
        "sink_name": "default",
    } | changes
    return PingSource(**fields)


def clock_starting_at(moment: datetime) -> Callable[[], datetime]:
    """A clock that runs at real speed from `moment`, so schedules can be tested within a second."""
    started = time.monotonic()
    return lambda: moment + timedelta(seconds=time.monotonic() - started)


# --- Parsing ------------------------------------------------------------------------------------


def test_a_field_accepts_lists_ranges_and_steps() -> None:
    schedule = CronSchedule.parse("0-30/10,45 1,2,5-7 */10 * *")

    assert schedule.minutes == {0, 10, 20, 30, 45}
    assert schedule.hours == {1, 2, 5, 6, 7}
    assert schedule.days_of_month == {1, 11, 21, 31}


def test_a_single_value_with_a_step_runs_to_the_end_of_the_field() -> None:
    assert CronSchedule.parse("5/15 * * * *").minutes == {5, 20, 35, 50}


def test_month_and_day_names_are_accepted() -> None:
    schedule = CronSchedule.parse("0 12 * jan-MAR mon,Fri")

    assert schedule.months == {1, 2, 3}
    assert schedule.days_of_week == {1, 5}


def test_seven_and_zero_both_mean_sunday() -> None:
    assert CronSchedule.parse("0 0 * * 7").days_of_week == {0}
    assert CronSchedule.parse("0 0 * * 5-7").days_of_week == {5, 6, 0}


@pytest.mark.parametrize(
    ("expression", "problem"),
    [
        ("", "empty"),
        ("* * * *", "has 4 fields"),
        ("0 * * * * *", "has 6 fields"),
        ("60 * * * *", "minute field '60': 60 is outside 0-59"),
        ("* 24 * * *", "hour field '24'"),
        ("* * 0 * *", "day-of-month field '0'"),
        ("* * * 13 *", "month field '13'"),
        ("* * * * 8", "day-of-week field '8'"),
        ("30-10 * * * *", "runs backwards"),
        ("*/0 * * * *", "step '0'"),
        ("*/ * * * *", "step ''"),
        ("x * * * *", "'x' is not a number"),
        ("1,,2 * * * *", "empty list item"),
        ("? * * * *", "'?' is not a number"),
        ("0 0 30 2 *", "never fires"),
        ("@fortnightly", "unknown descriptor"),
        ("@every 5 minutes", "'@every' needs a duration"),
        ("@every ", "unknown descriptor"),
        ("TZ=Europe/Paris * * * * *", "time zones are not supported"),
    ],
)
def test_invalid_expressions_are_refused_with_a_clear_message(expression: str, problem: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        CronSchedule.parse(expression)

    assert problem in str(raised.value)


# --- Next firing --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        ("* * * * *", datetime(2024, 5, 1, 12, 0, 30, 500_000, tzinfo=UTC), at(2024, 5, 1, 12, 1)),
        ("* * * * *", at(2024, 5, 1, 12, 1), at(2024, 5, 1, 12, 2)),
        ("*/15 * * * *", at(2024, 5, 1, 12, 46), at(2024, 5, 1, 13, 0)),
        ("30 2 * * *", at(2024, 1, 31, 3, 0), at(2024, 2, 1, 2, 30)),
        ("0 0 1 * *", at(2024, 12, 15), at(2025, 1, 1)),
        ("0 0 31 * *", at(2024, 4, 1), at(2024, 5, 31)),
        ("0 0 29 2 *", at(2024, 3, 1), at(2028, 2, 29)),
        ("59 23 31 12 *", at(2024, 12, 31, 23, 59), at(2025, 12, 31, 23, 59)),
        ("0 9 * * 1-5", at(2024, 6, 7, 10, 0), at(2024, 6, 10, 9, 0)),  # Friday -> Monday
        ("0 0 * * 7", at(2024, 6, 10), at(2024, 6, 16)),  # Monday -> Sunday
        ("@hourly", at(2024, 6, 10, 5, 59), at(2024, 6, 10, 6, 0)),
        ("@monthly", at(2024, 2, 1), at(2024, 3, 1)),
    ],
)
def test_next_after_finds_the_first_firing_strictly_later(expression: str, after: datetime, expected: datetime) -> None:
    assert CronSchedule.parse(expression).next_after(after) == expected


def test_when_both_day_fields_are_restricted_either_one_matching_is_enough() -> None:
    thirteenth_or_friday = CronSchedule.parse("0 0 13 * 5")

    # 2024-09-01 is a Sunday: the first Friday comes before the 13th.
    assert thirteenth_or_friday.next_after(at(2024, 9, 1)) == at(2024, 9, 6)
    # 2024-10-13 is a Sunday: the 13th alone is enough.
    assert thirteenth_or_friday.next_after(at(2024, 10, 12)) == at(2024, 10, 13)


def test_a_day_field_written_with_a_star_and_step_still_requires_both_days() -> None:
    odd_day_mondays = CronSchedule.parse("0 0 */2 * 1")

    assert odd_day_mondays.next_after(at(2024, 6, 30)) == at(2024, 7, 1)
    # Monday 8 July is an even day; Monday 15 July is the next odd-day Monday.
    assert odd_day_mondays.next_after(at(2024, 7, 1)) == at(2024, 7, 15)


def test_next_after_answers_in_utc_for_a_moment_in_another_zone() -> None:
    paris_summer = timezone(timedelta(hours=2))
    moment = datetime(2024, 6, 10, 8, 30, tzinfo=paris_summer)  # 06:30 UTC

    result = CronSchedule.parse("0 7 * * *").next_after(moment)

    assert result == at(2024, 6, 10, 7, 0)
    assert result.tzinfo is UTC


def test_next_after_refuses_a_naive_datetime() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        CronSchedule.parse("* * * * *").next_after(datetime(2024, 1, 1))


def test_every_fires_after_its_interval_in_whole_seconds() -> None:
    every = CronSchedule.parse("@every 1m30s")

    assert every.next_after(datetime(2024, 1, 1, 12, 0, 10, 700_000, tzinfo=UTC)) == at(2024, 1, 1, 12, 1, second=40)


# --- The ping event -----------------------------------------------------------------------------


def test_the_ping_event_carries_knatives_attributes_and_parsed_json_data() -> None:
    fired = ping_event(source())

    assert fired["type"] == "dev.knative.sources.ping"
    assert fired["source"] == "/apis/v1/namespaces/rlarena/pingsources/matchmaker-tick"
    assert fired["datacontenttype"] == "application/json"
    assert fired["specversion"] == "1.0"
    assert fired.get_data() == {"reason": "matchmaking tick"}


def test_each_ping_event_has_a_fresh_id() -> None:
    assert ping_event(source())["id"] != ping_event(source())["id"]


def test_non_json_ping_data_is_sent_as_the_raw_string() -> None:
    fired = ping_event(source(content_type="text/plain", data='{"not": parsed}'))

    assert fired.get_data() == '{"not": parsed}'
    assert fired["datacontenttype"] == "text/plain"


def test_ping_data_that_is_not_the_json_it_claims_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match=r"'matchmaker-tick': spec\.data is not valid JSON"):
        ping_event(source(data="{broken"))


# --- The timer ----------------------------------------------------------------------------------


def test_the_timer_fires_repeatedly_with_an_interval_override_and_stops_promptly() -> None:
    published: list[CloudEvent] = []
    twice = threading.Event()

    def publish(fired: CloudEvent) -> None:
        published.append(fired)
        if len(published) >= 2:
            twice.set()

    timer = PingTimer([source()], publish, interval_override=timedelta(milliseconds=20))
    timer.start()
    try:
        assert twice.wait(2)
    finally:
        started = time.monotonic()
        assert timer.stop()
        assert time.monotonic() - started < 0.5
    count = len(published)
    time.sleep(0.06)
    assert len(published) == count
    assert all(fired["type"] == "dev.knative.sources.ping" for fired in published)


def test_the_timer_follows_the_cron_schedule_without_an_override() -> None:
    fired = threading.Event()
    timer = PingTimer(
        [source(schedule="* * * * *")],
        lambda _: fired.set(),
        clock=clock_starting_at(datetime(2024, 1, 1, 12, 0, 59, 900_000, tzinfo=UTC)),
    )
    timer.start()
    try:
        assert fired.wait(2)
    finally:
        timer.stop()


def test_the_timer_does_not_fire_before_the_schedule_is_due() -> None:
    fired = threading.Event()
    timer = PingTimer(
        [source(schedule="* * * * *")],
        lambda _: fired.set(),
        clock=clock_starting_at(datetime(2024, 1, 1, 12, 0, 1, tzinfo=UTC)),
    )
    timer.start()
    try:
        assert not fired.wait(0.1)
    finally:
        started = time.monotonic()
        assert timer.stop()
        assert time.monotonic() - started < 0.5


def test_a_failing_publish_is_logged_and_the_timer_keeps_going(caplog: pytest.LogCaptureFixture) -> None:
    attempts: list[CloudEvent] = []
    third = threading.Event()

    def flaky(fired: CloudEvent) -> None:
        attempts.append(fired)
        if len(attempts) >= 3:
            third.set()
        raise RuntimeError("broker is down")

    timer = PingTimer([source()], flaky, interval_override=timedelta(milliseconds=10))
    timer.start()
    try:
        assert third.wait(2)
    finally:
        timer.stop()
    assert any("matchmaker-tick" in record.getMessage() for record in caplog.records)


def test_fire_now_fires_every_source_once() -> None:
    published: list[CloudEvent] = []
    timer = PingTimer([source("a"), source("b", schedule="0 0 1 1 *")], published.append)

    returned = timer.fire_now()

    assert [fired["source"].rsplit("/", 1)[1] for fired in published] == ["a", "b"]
    assert returned == published


def test_a_timer_cannot_be_started_twice_and_stopping_an_unstarted_one_is_harmless() -> None:
    timer = PingTimer([source()], lambda _: None)

    assert timer.stop()
    timer = PingTimer([source()], lambda _: None, interval_override=timedelta(hours=1))
    timer.start()
    try:
        with pytest.raises(RuntimeError, match="already"):
            timer.start()
    finally:
        assert timer.stop()


def test_a_bad_schedule_stops_the_timer_being_built_and_names_the_source() -> None:
    with pytest.raises(ConfigurationError, match="PingSource 'tick': cron schedule '61 \\* \\* \\* \\*'"):
        PingTimer([source("tick", schedule="61 * * * *")], lambda _: None)


def test_a_non_positive_interval_override_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="positive"):
        PingTimer([source()], lambda _: None, interval_override=timedelta(0))
