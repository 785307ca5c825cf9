"""Conversion with pydub and ffmpeg: a 3-minute stereo call, silence trimming, loudness, bad input."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pytest
from pydub import AudioSegment

from cti.simulator.recording import RATE, speech_like_stereo, write_wav
from recordings.convert import ConversionError, ConvertJob, convert


def ffprobe(path: Path) -> dict:
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=codec_name,channels,sample_rate:format=duration",
                          "-of", "json", str(path)], check=True, capture_output=True, text=True).stdout
    data = json.loads(out)
    return {**data["streams"][0], "duration": float(data["format"]["duration"])}


def test_a_three_minute_stereo_call_converts_to_opus_that_plays_back(tmp_path):
    source = tmp_path / "1700000000.42.wav"
    write_wav(source, speech_like_stereo(180.0, "1700000000.42"))
    target = tmp_path / "out" / "1700000000.42.opus"
    result = convert(ConvertJob(str(source), str(target), fmt="opus", bitrate="24k"))
    probe = ffprobe(target)
    assert probe["codec_name"] == "opus" and probe["channels"] == 2
    assert abs(probe["duration"] - 180.0) <= 0.05
    assert abs(result.duration - 180.0) <= 0.05 and result.source_duration == 180.0
    assert result.sha256 == hashlib.sha256(target.read_bytes()).hexdigest()
    assert result.size == target.stat().st_size < source.stat().st_size / 10   # compact
    # both legs survive: the citizen on the left, the agent on the right, each with its own speech
    left, right = AudioSegment.from_file(str(target)).split_to_mono()
    assert left.rms > 0 and right.rms > 0 and left.get_array_of_samples() != right.get_array_of_samples()
    assert not list(tmp_path.glob("out/*.part"))


def test_mp3_at_the_configured_bitrate(tmp_path):
    source = tmp_path / "c.wav"
    write_wav(source, speech_like_stereo(20.0, "c"))
    target = tmp_path / "c.mp3"
    result = convert(ConvertJob(str(source), str(target), fmt="mp3", bitrate="32k"))
    probe = ffprobe(target)
    assert probe["codec_name"] == "mp3" and probe["channels"] == 2
    # MP3 at 8 kHz works in 72 ms frames plus the encoder's delay: a frame or two longer is normal
    assert abs(probe["duration"] - 20.0) <= 0.2 and result.channels == 2
    assert 0.8 * 32000 / 8 * 20 <= result.size <= 1.25 * 32000 / 8 * 20


def test_leading_and_trailing_silence_is_trimmed_and_loudness_normalised(tmp_path):
    speech = AudioSegment(speech_like_stereo(10.0, "quiet"), sample_width=2, frame_rate=RATE, channels=2) - 18
    silence = AudioSegment.silent(2000, frame_rate=RATE).set_channels(2)
    source = tmp_path / "q.wav"
    (silence + speech + silence[:1000]).export(str(source), format="wav")
    result = convert(ConvertJob(str(source), str(tmp_path / "q.opus"), target_dbfs=-20.0))
    # the silence goes; at most the first and last syllables' fade-in/out (below -50 dBFS) goes with it
    assert 2.0 <= result.trimmed_start <= 2.1 and 1.0 <= result.trimmed_end <= 1.3
    assert result.duration == pytest.approx(13.0 - result.trimmed_start - result.trimmed_end, abs=0.002)
    assert abs(ffprobe(tmp_path / "q.opus")["duration"] - result.duration) <= 0.05
    out = AudioSegment.from_file(str(tmp_path / "q.opus"))
    assert speech.dBFS < -30 and abs(out.dBFS - -20.0) < 1.5 and out.max_dBFS <= -0.5


def test_the_raw_stereo_file_of_mixmonitor_option_d(tmp_path):
    source = tmp_path / "r.raw"
    source.write_bytes(speech_like_stereo(5.0, "r"))
    result = convert(ConvertJob(str(source), str(tmp_path / "r.opus")))
    assert result.channels == 2 and abs(result.duration - 5.0) <= 0.05


@pytest.mark.parametrize("content", [b"", b"RIFF\x00\x00\x00\x00WAVEjunk" + bytes(100), b"not audio at all" * 50])
def test_a_corrupt_capture_is_a_clear_error_and_leaves_no_target(tmp_path, content):
    source = tmp_path / "bad.wav"
    source.write_bytes(content)
    target = tmp_path / "bad.opus"
    with pytest.raises(ConversionError, match="bad.wav"):
        convert(ConvertJob(str(source), str(target)))
    assert source.read_bytes() == content and not target.exists() and not list(tmp_path.glob("*.part"))
