"""The wall's recent calls panel across instances (pure): local rows open this instance's playback page,
other instances' rows their own signed download links, never with this wall's token."""

from queue_monitor.engine import QueueCall
from queue_monitor.wall import merge_recent, recent_calls


def call(uid: str, ended: float) -> QueueCall:
    return QueueCall(uniqueid=uid, linkedid=uid, queue="public", hotline="12345", joined_at=ended - 60,
                     left_at=ended - 55, outcome="answered", connected_at=ended - 55, ended_at=ended,
                     agent="PJSIP/6001")


def test_rows_of_every_instance_newest_first_with_the_right_play_link():
    city = recent_calls([call("1.1", 100), call("1.2", 300)], {"1.1": "138****0001"}, {"1.2": "1.2"},
                        "Asia/Shanghai", links={"1.2": "https://city/api/recordings/1.2?expires=9&sig=a"})
    county = recent_calls([call("2.1", 200)], {}, {"2.1": "2.1"}, "Asia/Shanghai",
                          links={"2.1": "https://county/api/recordings/2.1?expires=9&sig=b"})
    rows = merge_recent("city", {"city": {"recent_calls": city}, "county": {"recent_calls": county}}, limit=2)
    assert [(r["uniqueid"], r["instance"]) for r in rows] == [("1.2", "city"), ("2.1", "county")]
    assert rows[0]["play"] == "/recordings/1.2/play" and not rows[0].get("signed")
    assert rows[1]["play"] == "https://county/api/recordings/2.1?expires=9&sig=b" and rows[1]["signed"]
    on_county = merge_recent("county", {"city": {"recent_calls": city}, "county": {"recent_calls": county}})
    assert [r["play"] for r in on_county] == ["https://city/api/recordings/1.2?expires=9&sig=a",
                                              "/recordings/2.1/play", None]
