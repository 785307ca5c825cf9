"""``log.format: json`` (issue 22): one JSON object per line, masked and escaped as the text format."""

from __future__ import annotations

import io
import json
import logging

import pytest

from cti import logs
from cti.settings import ConfigError, load_settings

NUMBER = "13800138000"


@pytest.fixture
def json_log():
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    buf = io.StringIO()
    logs.setup("INFO", stream=buf, format="json")
    yield buf
    root.handlers[:], _ = saved
    root.setLevel(saved[1])


def test_json_lines_are_masked_escaped_and_one_per_record(json_log):
    log = logging.getLogger("cti.test")
    log.info("caller %s said %s", NUMBER, "投诉\nFAKE 2026-01-01 INFO cti: forged")
    try:
        raise ValueError(f"bad caller {NUMBER}\u2028x")
    except ValueError:
        log.exception("failed for %s", NUMBER)
    lines = json_log.getvalue().splitlines()
    assert len(lines) == 2, lines
    first, second = (json.loads(line) for line in lines)
    assert first["level"] == "INFO" and first["logger"] == "cti.test", first
    # the decoded message is exactly what the text format writes: masked, newline escaped
    assert first["message"] == "caller 138****8000 said 投诉\\nFAKE 2026-01-01 INFO cti: forged", first
    assert "T" in first["time"] and first["time"][-6] in "+-", first["time"]
    assert second["message"] == "failed for 138****8000"
    assert "ValueError: bad caller 138****8000\\u2028x" in second["traceback"], second["traceback"]
    assert NUMBER not in json_log.getvalue() and "\u2028" not in json_log.getvalue()


def test_log_format_is_a_checked_setting(tmp_path):
    path = tmp_path / "cti.yaml"
    path.write_text("log: {format: json}\n")
    assert load_settings(path, environ={}).log.format == "json"
    with pytest.raises(ConfigError, match=r"log\.format .*CTI_LOG_FORMAT"):
        load_settings(path, environ={"CTI_LOG_FORMAT": "xml"})
