"""Retry schedule: spans a day by default, jitter stays in bounds, Retry-After parsing, exhaustion."""

import random
from datetime import UTC, datetime

from cti.tickets import retry
from cti.tickets.settings import DEFAULT_RETRY_SCHEDULE, TicketsSettings


def test_default_schedule_spans_at_least_a_day():
    assert retry.schedule_span(TicketsSettings().retry_schedule) >= 86400
    assert TicketsSettings().retry_schedule == DEFAULT_RETRY_SCHEDULE


def test_delays_grow_with_jitter_in_bounds_then_run_out():
    schedule = [10.0, 100.0, 1000.0]
    rng = random.Random(1)
    for failures, base in enumerate(schedule, start=1):
        delays = {retry.next_delay(failures, schedule, 0.2, rng) for _ in range(50)}
        assert all(0.8 * base <= d <= 1.2 * base for d in delays)
        assert len(delays) > 1  # jitter spreads retries of messages that failed together
    assert retry.next_delay(len(schedule) + 1, schedule, 0.2, rng) is None


def test_retry_after_seconds_and_http_date():
    now = datetime(2027, 1, 4, 2, 0, 0, tzinfo=UTC)
    assert retry.parse_retry_after("120", now) == 120
    assert retry.parse_retry_after("Mon, 04 Jan 2027 02:05:00 GMT", now) == 300
    assert retry.parse_retry_after("Mon, 04 Jan 2027 01:00:00 GMT", now) == 0
    assert retry.parse_retry_after("later", now) is None
    assert retry.parse_retry_after(None, now) is None


def test_env_style_schedule_string():
    s = TicketsSettings.model_validate({"retry_schedule": "1, 2.5,10"})
    assert s.retry_schedule == [1.0, 2.5, 10.0]
