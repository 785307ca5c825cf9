"""`cti flows simulate` and `cti flows graph` on the shipped flows."""

from __future__ import annotations

from ivr_flows.cli import main as flows_cli


def test_simulate_keys_2_1_on_a_working_day(capsys):
    assert flows_cli(["simulate", "main", "--keys", "2,1,1", "--at", "2026-03-02T10:00"]) == 0
    out = capsys.readouterr().out
    assert "2026-03-02 10:00 Monday, working time" in out
    assert "cti12345/main-menu 「群众诉求请按1" in out and "<- 2" in out
    assert "[yiqilai/tax] set" in out
    assert "=> queue enterprise tags 企业,政策咨询,税务 then survey" in out


def test_simulate_on_a_holiday_and_a_make_up_saturday(capsys):
    assert flows_cli(["simulate", "main", "--keys", "9", "--at", "2026-10-01T10:00"]) == 0
    out = capsys.readouterr().out
    assert "holiday 国庆节, after hours" in out and "[after_hours/holiday_notice]" in out
    assert "=> queue public tags 节假日,政务服务监管" in out
    assert flows_cli(["simulate", "main", "--keys", "9", "--at", "2026-02-14T10:00"]) == 0
    out = capsys.readouterr().out
    assert "make-up working day, working time" in out and "=> queue supervision" in out


def test_simulate_silence_and_a_merged_hotline(capsys):
    assert flows_cli(["simulate", "main", "--at", "2026-03-02T10:00", "--hotline", "12316"]) == 0
    out = capsys.readouterr().out
    assert out.count("<- no key") == 2 and "=> queue public tags 热线:12316,群众诉求" in out


def test_simulate_the_survey(capsys):
    assert flows_cli(["simulate", "survey", "--keys", "2"]) == 0
    assert "=> rating basically_satisfied 基本满意" in capsys.readouterr().out


def test_graph_mermaid_and_dot(capsys):
    assert flows_cli(["graph", "main"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("flowchart TD")
    assert 'n_menu -->|"key 2"| n_enterprise' in out and 'n_menu -->|"exhausted"| n_public' in out
    assert "goto yiqilai" in out
    assert flows_cli(["graph", "yiqilai", "--format", "dot"]) == 0
    out = capsys.readouterr().out
    assert out.startswith('digraph "yiqilai" {') and '"menu" -> "back" [label="key 0"];' in out
    assert out.rstrip().endswith("}")


def test_unknown_flow_is_an_error(capsys):
    assert flows_cli(["graph", "nope"]) == 1
    assert "no flow 'nope'" in capsys.readouterr().err
