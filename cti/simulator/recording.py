"""Call capture for the simulator: a real WAV file where Asterisk's MixMonitor would write it.

The shipped dialplan records each queue call with ``MixMonitor(${UNIQUEID}.raw,bD)``: only while
bridged (``b``), caller and agent on separate channels (``D``). The simulator imitates that when
``SimConfig.recording_dir`` is set: from the AgentConnect of a queue caller's channel to that
channel's Hangup it writes, stereo (left: the citizen, right: the agent), 8 kHz 16-bit, as long as
the call talked in simulated seconds, speech-like audio: into ``<Uniqueid>.raw`` (headerless) when the
shipped flow's MixMonitor created it before Queue() (:mod:`.shipped`), else ``<Uniqueid>.wav`` (the
recorded lab's flow). The file is complete before the Hangup event leaves the simulator's AMI server.
"""

from __future__ import annotations

import array
import logging
import math
import random
import wave
from pathlib import Path

try:  # Python 3.13 takes it from audioop-lts, which pydub needs anyway
    import audioop
except ImportError:  # pragma: no cover
    from pydub import pyaudioop as audioop  # type: ignore[no-redef]

log = logging.getLogger(__name__)

RATE = 8000
NOISE_DBFS = -42.0  # a phone line is never digitally silent; below the pipeline's silence threshold


def _syllable(rng: random.Random, rate: int) -> bytes:
    """One voiced syllable: a pitch with two harmonics under a raised-cosine envelope."""
    n = int(rate * rng.uniform(0.12, 0.30))
    f0 = rng.uniform(110.0, 240.0)
    amp = rng.uniform(6000.0, 12000.0)
    out = array.array("h", bytes(2 * n))
    for i in range(n):
        env = 0.5 - 0.5 * math.cos(2 * math.pi * i / n)
        t = i / rate
        s = (math.sin(2 * math.pi * f0 * t) + 0.5 * math.sin(4 * math.pi * f0 * t)
             + 0.25 * math.sin(6 * math.pi * f0 * t)) / 1.75
        out[i] = int(amp * env * s)
    return out.tobytes()


def _noise(rng: random.Random, seconds: float, rate: int) -> bytes:
    peak = int(32767 * 10 ** (NOISE_DBFS / 20) * 1.7)  # uniform noise: rms = peak / sqrt(3)
    return array.array("h", (rng.randint(-peak, peak) for _ in range(int(rate * seconds)))).tobytes()


class _Voice:
    """Pre-rendered pieces so a long call costs byte concatenation, not per-sample Python."""

    def __init__(self, rng: random.Random, rate: int) -> None:
        self.rate = rate
        self.syllables = [_syllable(rng, rate) for _ in range(12)]
        self.noise = _noise(rng, 1.0, rate)

    def floor(self, nbytes: int, offset: int) -> bytes:
        """``nbytes`` of line noise (whole samples), starting at ``offset`` in the noise loop."""
        reps = (offset + nbytes) // len(self.noise) + 2
        return (self.noise * reps)[offset:offset + nbytes]


def speech_like_stereo(seconds: float, seed: str | int = 0, rate: int = RATE) -> bytes:
    """Interleaved 16-bit stereo PCM: the two parties take turns; the other side hears line noise."""
    rng = random.Random(str(seed))
    voice = _Voice(rng, rate)
    total = int(seconds * rate) * 2  # bytes per channel
    legs = [bytearray(), bytearray()]
    speaker = 1  # the agent greets first: "您好，12345"
    while len(legs[0]) < total:
        turn = int(rate * rng.uniform(1.5, 5.0)) * 2
        talk = bytearray()
        while len(talk) < turn:
            talk += rng.choice(voice.syllables)
            talk += voice.floor(int(rate * rng.uniform(0.02, 0.08)) * 2, len(talk) % len(voice.noise))
        talk = talk[:turn]
        # speech rides on the line noise so the gaps between syllables are never digital silence
        talk = audioop.add(bytes(talk), voice.floor(len(talk), 0), 2)
        legs[speaker] += talk
        legs[1 - speaker] += voice.floor(len(talk), len(legs[1 - speaker]) % len(voice.noise))
        speaker = 1 - speaker
    left, right = bytes(legs[0][:total]), bytes(legs[1][:total])
    return audioop.add(audioop.tostereo(left, 2, 1, 0), audioop.tostereo(right, 2, 0, 1), 2)


def write_wav(path: Path, pcm: bytes, rate: int = RATE, channels: int = 2) -> None:
    """Write through a temporary name: a reader never sees half a file under the final name."""
    tmp = path.with_name(path.name + ".part")
    with wave.open(str(tmp), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm)
    tmp.replace(path)


class CallRecorder:
    """A PBX listener: AgentConnect starts a capture of the queue caller's channel, its Hangup ends it."""

    def __init__(self, directory: str | Path, rate: int = RATE) -> None:
        self.directory = Path(directory)
        self.rate = rate
        self.started: dict[str, float] = {}   # caller channel Uniqueid -> AgentConnect timestamp
        self.written: list[Path] = []

    def attach(self, pbx) -> CallRecorder:
        self.directory.mkdir(parents=True, exist_ok=True)
        pbx.listeners.insert(0, self)  # before the AMI server: the file exists when Hangup is sent
        return self

    def __call__(self, message: list[tuple[str, str]]) -> None:
        name = message[0][1]
        if name not in ("AgentConnect", "Hangup"):
            return
        fields = dict(message)
        uid = fields.get("Uniqueid", "")
        if name == "AgentConnect":
            self.started.setdefault(uid, float(fields["Timestamp"]))
        elif uid in self.started:
            seconds = max(0.0, float(fields["Timestamp"]) - self.started.pop(uid))
            path = self.directory / f"{uid}.wav"
            raw = self.directory / f"{uid}.raw"
            try:
                if raw.exists():   # the shipped MixMonitor(${UNIQUEID}.raw,bD): headerless interleaved PCM
                    tmp = raw.with_name(raw.name + ".part")
                    tmp.write_bytes(speech_like_stereo(seconds, uid, self.rate))
                    tmp.replace(raw)
                    path = raw
                else:
                    write_wav(path, speech_like_stereo(seconds, uid, self.rate), self.rate)
            except OSError as exc:
                log.error("simulated MixMonitor: cannot write %s: %s", path, exc)
                return
            self.written.append(path)
