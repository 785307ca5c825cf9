"""One conversion, run in a worker process: decode, trim silence, normalise loudness, encode, checksum.

Pure of the layer: it takes paths and numbers and returns numbers, so a process pool can run it and
the benchmark can time it alone. The target appears under its final name only when complete.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from pydub import AudioSegment
from pydub.silence import detect_leading_silence

# ffmpeg muxer and encoder per output format
FORMATS = {"opus": ("opus", "libopus"), "mp3": ("mp3", "libmp3lame")}
CONTENT_TYPES = {"opus": "audio/ogg", "mp3": "audio/mpeg"}


class ConversionError(Exception):
    """The capture cannot be converted (corrupt, empty, ffmpeg failed); the message says why."""


class EmptyCapture(ConversionError):
    """The capture holds no audio at all: 0 bytes, less than one sample frame, or a header only."""


RAW_FRAME_BYTES = 4   # one sample frame of MixMonitor's raw capture: 16-bit x 2 channels


def is_empty_capture(path: Path, size: int) -> bool:
    """True when a capture of ``size`` bytes cannot hold one sample frame (decided without decoding)."""
    return size < (RAW_FRAME_BYTES if path.suffix.lower() == ".raw" else 1)


@dataclass(frozen=True)
class ConvertJob:
    source: str
    target: str
    fmt: str = "opus"
    bitrate: str = "24k"
    target_dbfs: float = -20.0
    headroom_db: float = 1.0
    silence_dbfs: float = -50.0
    raw_rate: int = 8000
    ffmpeg: str = "ffmpeg"


@dataclass(frozen=True)
class Converted:
    duration: float          # seconds, after trimming
    source_duration: float   # seconds of the capture
    trimmed_start: float
    trimmed_end: float
    channels: int
    size: int
    sha256: str
    gain_db: float


def load(source: Path, raw_rate: int = 8000) -> AudioSegment:
    if source.suffix.lower() == ".raw":  # MixMonitor D option: headerless interleaved 16-bit stereo
        return AudioSegment.from_raw(str(source), sample_width=2, frame_rate=raw_rate, channels=2)
    return AudioSegment.from_file(str(source))


def trim(seg: AudioSegment, silence_dbfs: float) -> tuple[AudioSegment, int, int]:
    """Drop leading and trailing silence (10 ms steps); a call that is all silence is kept whole."""
    start = detect_leading_silence(seg, silence_threshold=silence_dbfs, chunk_size=10)
    end = detect_leading_silence(seg.reverse(), silence_threshold=silence_dbfs, chunk_size=10)
    if start + end >= len(seg):
        return seg, 0, 0
    return seg[start:len(seg) - end], start, end


def loudness_gain(seg: AudioSegment, target_dbfs: float, headroom_db: float) -> float:
    """Gain to bring the call's RMS to the target without pushing a peak above -headroom dBFS."""
    if seg.rms == 0:
        return 0.0
    return min(target_dbfs - seg.dBFS, -headroom_db - seg.max_dBFS)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def convert(job: ConvertJob) -> Converted:
    source, target = Path(job.source), Path(job.target)
    if job.fmt not in FORMATS:
        raise ConversionError(f"unknown format {job.fmt!r}")
    AudioSegment.converter = job.ffmpeg
    try:
        size = source.stat().st_size
    except FileNotFoundError:
        raise ConversionError(f"capture file {source} is missing") from None
    if is_empty_capture(source, size):
        raise EmptyCapture(f"{source.name} holds no audio ({size} bytes)")
    try:
        seg = load(source, job.raw_rate)
    except FileNotFoundError:
        raise ConversionError(f"capture file {source} is missing") from None
    except Exception as exc:  # pydub raises several types for bad input; all mean "cannot decode"
        raise ConversionError(f"cannot decode {source.name}: {type(exc).__name__}: {str(exc)[-300:]}") from None
    if len(seg) == 0 or seg.frame_count() == 0:
        raise EmptyCapture(f"{source.name} holds no audio (no sample frame)")
    source_duration = seg.frame_count() / seg.frame_rate
    seg, start_ms, end_ms = trim(seg, job.silence_dbfs)
    gain = loudness_gain(seg, job.target_dbfs, job.headroom_db)
    if abs(gain) >= 0.05:
        seg = seg.apply_gain(gain)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    muxer, codec = FORMATS[job.fmt]
    try:
        seg.export(str(partial), format=muxer, codec=codec, bitrate=job.bitrate).close()
    except Exception as exc:
        partial.unlink(missing_ok=True)
        raise ConversionError(f"ffmpeg could not encode {source.name}: {str(exc)[-300:]}") from None
    with partial.open("rb") as f:
        os.fsync(f.fileno())
    os.replace(partial, target)
    return Converted(duration=seg.frame_count() / seg.frame_rate, source_duration=source_duration,
                     trimmed_start=start_ms / 1000, trimmed_end=end_ms / 1000, channels=seg.channels,
                     size=target.stat().st_size, sha256=sha256_of(target), gain_db=round(gain, 2))
