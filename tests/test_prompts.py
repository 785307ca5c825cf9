"""Prompt audio (issue 12, failure 7): `cti prompts`, `cti prompts synth DIR`, and `cti flows check` warnings.

Real espeak-ng (Mandarin voice) and ffmpeg; the synthesized files are read back with the stdlib ``wave``.
"""

from __future__ import annotations

import array
import os
import shutil
import subprocess
import sys
import wave
from pathlib import Path

import pytest

from cti.cli import main as cti
from ivr_flows.loader import read_catalogue

ROOT = Path(__file__).resolve().parents[1]
CATALOGUE = read_catalogue(ROOT / "config" / "prompts")


def cti_process(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith("CTI_")}
    return subprocess.run([sys.executable, "-m", "cti.cli", *argv], cwd=ROOT, env=base | (env or {}),
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("sounds")
    done = cti_process("prompts", "synth", str(out))
    assert done.returncode == 0, done.stderr
    assert f"{len(CATALOGUE)} prompt(s) synthesized, 0 kept" in done.stdout
    return out


@pytest.fixture
def sounds(synthesized, tmp_path) -> Path:
    """A private copy of the synthesized folder that a test may break."""
    return Path(shutil.copytree(synthesized, tmp_path / "sounds"))


def test_synth_writes_an_8khz_16bit_mono_wav_of_speech_for_every_catalogue_prompt(synthesized):
    assert len(CATALOGUE) >= 20
    for name, entry in CATALOGUE.items():
        path = synthesized / f"{name}.wav"      # the name's folder is kept: DIR/cti12345/welcome.wav
        with wave.open(str(path), "rb") as w:
            assert (w.getframerate(), w.getsampwidth(), w.getnchannels(), w.getcomptype()) == (8000, 2, 1, "NONE")
            seconds = w.getnframes() / w.getframerate()
            samples = array.array("h", w.readframes(w.getnframes()))
        # espeak-ng speaks more slowly than the studio: at least half the catalogue's length, never a blip
        assert seconds >= max(0.5, 0.5 * float(entry.get("seconds", 1))), (name, seconds)
        assert max(map(abs, samples)) > 3000, name                     # speech, not silence
    assert not list(synthesized.rglob("*.part"))


def test_synth_is_idempotent_and_keeps_the_centres_own_recordings(sounds):
    own = sounds / "cti12345" / "welcome.wav"
    own.write_bytes(own.read_bytes()[:2000])          # stands for a recording the centre made itself
    before = {p: p.stat().st_mtime_ns for p in sounds.rglob("*.wav")}
    done = cti_process("prompts", "synth", str(sounds))
    assert done.returncode == 0 and f"0 prompt(s) synthesized, {len(CATALOGUE)} kept" in done.stdout
    assert {p: p.stat().st_mtime_ns for p in sounds.rglob("*.wav")} == before
    done = cti_process("prompts", "synth", "--force", str(sounds))
    assert done.returncode == 0 and f"{len(CATALOGUE)} prompt(s) synthesized" in done.stdout
    assert own.stat().st_size > 2000


def test_synth_without_espeak_ng_fails_with_a_message_naming_it(tmp_path):
    bare = tmp_path / "bin"
    bare.mkdir()
    (bare / "ffmpeg").symlink_to(shutil.which("ffmpeg"))
    done = cti_process("prompts", "synth", str(tmp_path / "out"), env={"PATH": str(bare)})
    assert done.returncode != 0
    assert "espeak-ng is not installed" in done.stderr and "apt-get install espeak-ng" in done.stderr
    assert not (tmp_path / "out").exists()


def test_prompts_lists_each_prompt_its_text_and_whether_asterisk_finds_its_audio(sounds, capsys):
    (sounds / "cti12345" / "yiqilai-menu-short.wav").unlink()                     # missing
    (sounds / "cti12345" / "goodbye.wav").write_bytes(b"")                        # Asterisk would play nothing
    (sounds / "cti12345" / "no-key.wav").rename(sounds / "cti12345" / "no-key.gsm")   # another format Asterisk plays
    (sounds / "zh" / "cti12345").mkdir(parents=True)
    (sounds / "cti12345" / "holiday.wav").rename(sounds / "zh" / "cti12345" / "holiday.wav")   # zh channels only
    (sounds / "en" / "cti12345").mkdir(parents=True)
    (sounds / "cti12345" / "welcome.wav").rename(sounds / "en" / "cti12345" / "welcome.sln")   # Asterisk's default

    assert cti(["prompts", "--sounds-dir", str(sounds)]) == 0
    out, err = capsys.readouterr()
    rows = {line.split("\t")[0]: line.split("\t")[1:] for line in out.splitlines()}
    assert set(rows) == set(CATALOGUE)
    assert rows["cti12345/main-menu"] == ["有 present  cti12345/main-menu.wav", CATALOGUE["cti12345/main-menu"]["text"]]
    assert rows["cti12345/no-key"][0] == "有 present  cti12345/no-key.gsm"
    assert rows["cti12345/welcome"][0] == "有 present  en/cti12345/welcome.sln"
    assert rows["cti12345/yiqilai-menu-short"] == ["缺 MISSING", "请按1、2、3或0。"]
    assert rows["cti12345/goodbye"][0] == "缺 MISSING"
    assert rows["cti12345/holiday"][0] == "缺 MISSING  (only under zh/)"
    assert f"{len(CATALOGUE)} prompt(s), {len(CATALOGUE) - 3} with audio, 3 missing" in err

    # a channel whose language is zh_CN finds zh/ (Asterisk strips the _CN), and falls back to en/
    assert cti(["prompts", "--sounds-dir", str(sounds), "--language", "zh_CN", "--strict"]) == 1
    out, _ = capsys.readouterr()
    rows = {line.split("\t")[0]: line.split("\t")[1] for line in out.splitlines()}
    assert rows["cti12345/holiday"] == "有 present  zh/cti12345/holiday.wav"
    assert rows["cti12345/welcome"] == "有 present  en/cti12345/welcome.sln"


def test_flows_check_warns_about_prompts_without_audio_when_the_sounds_folder_is_set(sounds):
    (sounds / "cti12345" / "yiqilai-menu-short.wav").unlink()
    done = cti_process("flows", "check", env={"CTI_FLOWS_SOUNDS_DIR": str(sounds)})
    assert done.returncode == 0, done.stderr              # a warning, not an error: the flows still load
    warnings = [line for line in done.stderr.splitlines() if "warning:" in line]
    assert len(warnings) == 1
    assert warnings[0].startswith("config/flows/yiqilai.yaml:")
    assert "node menu: warning: prompt 'cti12345/yiqilai-menu-short' has no audio" in warnings[0]
    assert "1 warning(s): prompts without audio" in done.stdout

    done = cti_process("flows", "check")                  # sounds folder not configured: nothing checked
    assert done.returncode == 0 and "warning" not in done.stderr + done.stdout
