"""The local platform's PingSource: cron schedules from the manifests, firing the event Knative would.

Schedules are evaluated in UTC. Like the cluster's adapter, a timer that falls behind (a laptop
asleep, a slow publish) fires once and carries on from the present rather than catching up.
"""

from __future__ import annotations

import calendar
import json
import logging
import re
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from cloudevents.http import CloudEvent

from rlarena.errors import ConfigurationError
from rlarena.events.catalogue import EventType
from rlarena.platform.manifests import PingSource

log = logging.getLogger(__name__)

_FIELD_NAMES = ("minute", "hour", "day-of-month", "month", "day-of-week")
_FIELD_BOUNDS = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))
_MONTH_NAMES = {name.upper(): number for number, name in enumerate(calendar.month_abbr) if name}
_DAY_NAMES = {name: number for number, name in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"))}
_DESCRIPTORS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
# Go duration units, as `@every` takes them ("90s", "1m30s", "1.5h").
_GO_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|h|m|s)")
_GO_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
# Longer than the widest gap a valid schedule can have (29 February skips a leap year at each century).
_SEARCH_HORIZON = timedelta(days=366 * 9)


@dataclass(frozen=True)
class CronSchedule:
    """A standard five-field cron expression (or a Knative descriptor such as `@hourly`, `@every 5m`)."""

    expression: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days_of_month: frozenset[int]
    months: frozenset[int]
    days_of_week: frozenset[int]  # 0 = Sunday
    # A day field written as "*" (or "*/n") does not take part in cron's either-day rule.
    day_of_month_star: bool = True
    day_of_week_star: bool = True
    every: timedelta | None = None

    @classmethod
    def parse(cls, expression: str) -> CronSchedule:
        text = " ".join(expression.split())
        if not text:
            raise ConfigurationError("cron schedule is empty: use five fields, e.g. '* * * * *'")
        if text.upper().startswith(("CRON_TZ=", "TZ=")):
            raise ConfigurationError(
                f"cron schedule {expression!r}: time zones are not supported; schedules run in UTC"
            )
        if text.startswith("@"):
            if text.lower().startswith("@every "):
                return cls._every(expression, text[len("@every ") :])
            expanded = _DESCRIPTORS.get(text.lower())
            if expanded is None:
                raise ConfigurationError(
                    f"cron schedule {expression!r}: unknown descriptor; use one of "
                    f"{', '.join(sorted(_DESCRIPTORS))} or '@every <duration>'"
                )
            text = expanded
        fields = text.split(" ")
        if len(fields) != 5:
            raise ConfigurationError(
                f"cron schedule {expression!r} has {len(fields)} fields; "
                "expected 5: minute hour day-of-month month day-of-week"
            )
        values = [_parse_field(expression, index, part) for index, part in enumerate(fields)]
        schedule = cls(
            expression=expression,
            minutes=values[0],
            hours=values[1],
            days_of_month=values[2],
            months=values[3],
            days_of_week=frozenset(day % 7 for day in values[4]),
            day_of_month_star=fields[2].startswith(("*", "?")),
            day_of_week_star=fields[4].startswith(("*", "?")),
        )
        if schedule.day_of_week_star and not any(
            day <= _longest_month(month) for month in schedule.months for day in schedule.days_of_month
        ):
            raise ConfigurationError(f"cron schedule {expression!r} never fires: no month has that day")
        return schedule

    @classmethod
    def _every(cls, expression: str, duration: str) -> CronSchedule:
        duration = duration.strip()
        parts = list(_GO_DURATION_PART.finditer(duration))
        if not parts or "".join(part.group(0) for part in parts) != duration:
            raise ConfigurationError(
                f"cron schedule {expression!r}: '@every' needs a duration such as 30s, 5m or 1h30m"
            )
        seconds = sum(float(part.group(1)) * _GO_UNIT_SECONDS[part.group(2)] for part in parts)
        # Knative's cron library works in whole seconds, and never more often than once a second.
        unused = frozenset[int]()
        every = timedelta(seconds=max(1, int(seconds)))
        return cls(expression, unused, unused, unused, unused, unused, every=every)

    def next_after(self, moment: datetime) -> datetime:
        """The first firing strictly after `moment` (timezone-aware), in UTC; at second 0 for cron fields."""
        if moment.tzinfo is None:
            raise ValueError("next_after needs a timezone-aware datetime")
        moment = moment.astimezone(UTC)
        if self.every is not None:
            return moment.replace(microsecond=0) + self.every
        candidate = moment.replace(second=0, microsecond=0) + timedelta(minutes=1)
        horizon = candidate + _SEARCH_HORIZON
        # Skip whole months, days and hours that cannot match before stepping minute by minute.
        while candidate < horizon:
            if candidate.month not in self.months:
                first = candidate.replace(day=1, hour=0, minute=0)
                candidate = (first + timedelta(days=32)).replace(day=1)
            elif not self._day_matches(candidate.date()):
                candidate = candidate.replace(hour=0, minute=0) + timedelta(days=1)
            elif candidate.hour not in self.hours:
                candidate = candidate.replace(minute=0) + timedelta(hours=1)
            elif candidate.minute not in self.minutes:
                candidate += timedelta(minutes=1)
            else:
                return candidate
        raise ConfigurationError(f"cron schedule {self.expression!r} does not fire within {_SEARCH_HORIZON.days} days")

    def _day_matches(self, day: date) -> bool:
        in_month = day.day in self.days_of_month
        in_week = day.isoweekday() % 7 in self.days_of_week
        # Cron's rule: when both day fields are restricted, either may match; otherwise both must.
        if self.day_of_month_star or self.day_of_week_star:
            return in_month and in_week
        return in_month or in_week


def _longest_month(month: int) -> int:
    return calendar.monthrange(2000, month)[1]  # 2000 is a leap year, so February has 29 days


def _parse_field(expression: str, index: int, text: str) -> frozenset[int]:
    name = _FIELD_NAMES[index]
    low, high = _FIELD_BOUNDS[index]
    names = _MONTH_NAMES if index == 3 else _DAY_NAMES if index == 4 else {}

    def fail(problem: str) -> ConfigurationError:
        return ConfigurationError(f"cron schedule {expression!r}: {name} field {text!r}: {problem}")

    def number(token: str) -> int:
        value = names.get(token.upper()) if names else None
        if value is None:
            if not token.isdigit():
                raise fail(f"{token!r} is not a number")
            value = int(token)
        if not low <= value <= high:
            raise fail(f"{value} is outside {low}-{high}")
        return value

    values: set[int] = set()
    for part in text.split(","):
        span, slash, step_text = part.partition("/")
        step = 1
        if slash:
            if not step_text.isdigit() or int(step_text) == 0:
                raise fail(f"step {step_text!r} must be a whole number above 0")
            step = int(step_text)
        if span == "*" or (span == "?" and index in (2, 4)):
            start, end = low, high
        elif "-" in span:
            first, _, last = span.partition("-")
            start, end = number(first), number(last)
            if start > end:
                raise fail(f"range {span} runs backwards")
        elif span:
            start = number(span)
            # "5/15" means from 5 to the end of the field in steps of 15.
            end = high if step_text else start
        else:
            raise fail("empty list item")
        values.update(range(start, end + 1, step))
    return frozenset(values)


def ping_event(source: PingSource) -> CloudEvent:
    """The CloudEvent Knative's PingSource adapter emits for `source`."""
    attributes: dict[str, Any] = {
        "type": EventType.PING.value,
        "source": f"/apis/v1/namespaces/{source.namespace}/pingsources/{source.name}",
        "id": str(uuid.uuid4()),
        "specversion": "1.0",
    }
    if source.content_type:
        attributes["datacontenttype"] = source.content_type
    data: Any = source.data or None
    media_type = source.content_type.split(";", 1)[0].strip().lower()
    if data is not None and media_type == "application/json":
        try:
            data = json.loads(source.data)
        except json.JSONDecodeError as error:
            raise ConfigurationError(
                f"PingSource {source.name!r}: spec.data is not valid JSON but contentType is application/json "
                f"({error.msg} at character {error.pos})"
            ) from None
    return CloudEvent(attributes, data)


def _utc_now() -> datetime:
    return datetime.now(UTC)


class PingTimer:
    """Fires each PingSource on its schedule (or every `interval_override`) from one daemon thread."""

    # Re-read the clock at least this often, so a wall-clock jump cannot strand a firing for hours.
    _MAX_WAIT_SECONDS = 30.0

    def __init__(
        self,
        sources: Sequence[PingSource],
        publish: Callable[[CloudEvent], None],
        *,
        interval_override: timedelta | None = None,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        if interval_override is not None and interval_override <= timedelta(0):
            raise ConfigurationError(f"the ping interval override must be positive, not {interval_override}")
        self._sources = tuple(sources)
        # Parse and build everything now, so a bad manifest stops start-up instead of failing every minute.
        self._schedules: list[CronSchedule] = []
        for source in self._sources:
            try:
                self._schedules.append(CronSchedule.parse(source.schedule))
            except ConfigurationError as error:
                raise ConfigurationError(f"PingSource {source.name!r}: {error.message}") from None
            ping_event(source)
        self._publish = publish
        self._interval = interval_override
        self._clock = clock
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("the ping timer has already been started")
        for source in self._sources:
            cadence = f"every {self._interval} (override)" if self._interval else f"on {source.schedule!r}"
            log.info("PingSource %s fires %s to %s %s", source.name, cadence, source.sink_kind, source.sink_name)
        self._thread = threading.Thread(target=self._run, name="rlarena-ping", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> bool:
        """Stop firing; True once the thread has ended (it only lingers while a publish is in progress)."""
        self._stopping.set()
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def fire_now(self) -> list[CloudEvent]:
        """Fire every source once, now; returns the events that were published."""
        fired = (self._fire(source) for source in self._sources)
        return [event for event in fired if event is not None]

    def _run(self) -> None:
        due = [self._next(index, self._clock()) for index in range(len(self._sources))]
        if not due:
            return
        while not self._stopping.is_set():
            for index, source in enumerate(self._sources):
                if due[index] <= self._clock():
                    self._fire(source)
                    due[index] = self._next(index, self._clock())
            wait = (min(due) - self._clock()).total_seconds()
            self._stopping.wait(min(max(wait, 0.0), self._MAX_WAIT_SECONDS))

    def _next(self, index: int, now: datetime) -> datetime:
        if self._interval is not None:
            return now + self._interval
        return self._schedules[index].next_after(now)

    def _fire(self, source: PingSource) -> CloudEvent | None:
        try:
            event = ping_event(source)
            self._publish(event)
        except Exception:  # one failed tick must not stop the schedule
            log.exception("PingSource %s: publishing its event failed; it will fire again on schedule", source.name)
            return None
        log.debug("PingSource %s fired event %s", source.name, event["id"])
        return event
