"""The one-line summary of `cti run` on the recorded queue scenarios."""

from ami_replay import event_frames, load

from cti.ami.message import parse
from queue_monitor.summary import LiveSummary


def feed(*scenarios: str) -> LiveSummary:
    summary = LiveSummary()
    for name in scenarios:
        messages, _ = parse(b"".join(f + b"\r\n\r\n" for f in event_frames(load(name))))
        for m in messages:
            summary.on_event(m)
    return summary


def test_timeout_is_not_an_abandon():
    t = feed("queue-timeout").queues["enterprise"]
    assert (t.offered, t.abandoned, t.timed_out, t.waiting) == (1, 0, 1, 0)


def test_abandon_and_answers_within_and_after_15_s():
    s = feed("answered-within-sl", "answered-after-sl", "abandon-in-queue")
    p = s.queues["public"]
    # waits 3.0 s and 17.0 s answered, one caller hung up after 4 s
    assert (p.offered, p.answered, p.answered_in_sl, p.abandoned, p.timed_out) == (3, 2, 1, 1, 0)
    assert p.answer_rate == 0.5
    assert "15秒接通率 50.0%" in s.line()
