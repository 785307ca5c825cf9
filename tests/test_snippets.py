"""The shipped dialplan snippet agrees with the shipped hotline directory."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def context(name: str) -> str:
    text = (ROOT / "config/asterisk/extensions_cti.conf").read_text(encoding="utf-8")
    body = re.split(rf"^\[{re.escape(name)}\]", text, maxsplit=1, flags=re.M)[1]
    return re.split(r"^\[", body, maxsplit=1, flags=re.M)[0]


def test_given_the_hotline_directory_then_cti_inbound_answers_exactly_its_direct_merged_numbers():
    data = yaml.safe_load((ROOT / "config/hotlines.yaml").read_text(encoding="utf-8"))
    merged = {h["number"] for h in data["hotlines"] if h["kind"] == "direct-merged"}
    extens = set(re.findall(r"^exten => (\d+),1,Goto\(cti-merged,", context("cti-inbound"), flags=re.M))
    assert extens == merged
