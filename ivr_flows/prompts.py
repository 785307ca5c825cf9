"""Prompt audio: which catalogue prompts Asterisk can play, and placeholder audio synthesized from their text.

The flows name prompts as STREAM FILE takes them (``cti12345/welcome``: relative to Asterisk's sounds
folder, without extension); ``config/prompts/catalogue.yaml`` gives their Chinese text. Asterisk
finds a prompt the way ``main/file.c`` (``fileexists_core``) does, with ``languageprefix = yes``
(asterisk.conf's default): for a channel language ``zh_CN_female`` it tries, in order,

    <sounds>/zh_CN_female/<name>.<ext>, <sounds>/zh_CN/<name>.<ext>, <sounds>/zh/<name>.<ext>,
    <sounds>/<name>.<ext>, and last <sounds>/en/<name>.<ext> (``defaultlanguage``) unless tried already.

A channel whose language was never set has Asterisk's default language ``en``. A file found with 0
bytes is "found" by Asterisk but plays nothing (``ast_streamfile`` returns at once): it counts as
missing here. The extensions are those Asterisk's audio format modules register (``.exts``);
``slin`` is not one of them (format_sln registers ``sln|raw``).

``synthesize`` writes placeholder audio with espeak-ng's Mandarin voice (``espeak-ng -v cmn``),
resampled by ffmpeg to 8 kHz 16-bit mono WAV, Asterisk's native narrowband format.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ivr_flows import model as m

DEFAULT_LANGUAGE = "en"   # Asterisk's defaultlanguage: the language of a channel that never set one
# Extensions of Asterisk's audio format modules (format_wav, format_wav_gsm, format_gsm, format_sln,
# format_pcm, format_g722, format_g729, format_g723, format_g726, format_ilbc, format_siren7/14,
# format_ogg_vorbis, format_ogg_speex, format_vox).
SOUND_EXTENSIONS = ("wav", "wav16", "WAV", "wav49", "gsm", "sln", "raw", "sln12", "sln16", "sln24", "sln32",
                    "sln44", "sln48", "sln96", "sln192", "ulaw", "ul", "mu", "ulw", "pcm", "alaw", "al", "alw",
                    "g722", "g729", "g723", "g723sf", "g726-40", "g726-32", "g726-24", "g726-16", "ilbc",
                    "siren7", "siren14", "ogg", "spx", "vox")
VOICE = "cmn"             # espeak-ng's Mandarin voice
SAMPLE_RATE = 8000        # Hz: what Asterisk plays without transcoding on a narrowband call


class SynthError(Exception):
    """Placeholder audio cannot be made (espeak-ng or ffmpeg missing or failing); the message says which."""


def language_order(language: str) -> list[str | None]:
    """The language folders Asterisk tries, in order; None is the sounds folder itself."""
    order: list[str | None] = []
    lang = language
    while lang:
        order.append(lang)
        lang = lang.rpartition("_")[0]
    order.append(None)
    if DEFAULT_LANGUAGE not in order:
        order.append(DEFAULT_LANGUAGE)
    return order


def find_sound(sounds_dir: Path, name: str, language: str = DEFAULT_LANGUAGE) -> Path | None:
    """The file Asterisk would play for prompt ``name`` on a channel of ``language``, or None.

    Within one language folder every extension counts (Asterisk then picks the cheapest to translate).
    """
    for lang in language_order(language):
        base = sounds_dir / lang / name if lang else sounds_dir / name
        for ext in SOUND_EXTENSIONS:
            path = base.with_name(f"{base.name}.{ext}")
            if path.is_file() and path.stat().st_size > 0:
                return path
    return None


def other_languages(sounds_dir: Path, name: str, language: str = DEFAULT_LANGUAGE) -> list[str]:
    """Language folders holding the prompt that a channel of ``language`` would not look in."""
    tried = set(language_order(language))
    if not sounds_dir.is_dir():
        return []
    return sorted(d.name for d in sounds_dir.iterdir()
                  if d.is_dir() and d.name not in tried and find_sound(d, name, "") is not None)


@dataclass(frozen=True)
class PromptAudio:
    name: str
    text: str
    path: Path | None                 # the file Asterisk plays; None when it has none
    elsewhere: tuple[str, ...] = ()   # language folders that hold it for other channel languages


def audit(catalogue: dict[str, dict], sounds_dir: Path, language: str = DEFAULT_LANGUAGE) -> list[PromptAudio]:
    """Every catalogue prompt with the sound file Asterisk would play, in catalogue order."""
    out = []
    for name, entry in catalogue.items():
        path = find_sound(sounds_dir, name, language)
        elsewhere = () if path else tuple(other_languages(sounds_dir, name, language))
        out.append(PromptAudio(name, str(entry.get("text") or ""), path, elsewhere))
    return out


def flow_prompts(flow: m.Flow) -> Iterable[tuple[m.Node, m.Prompt]]:
    """(node, prompt) for every fixed prompt of a flow (a ``${variable}`` name is known only in a call)."""
    for node in flow.nodes.values():
        for field in getattr(type(node), "__dataclass_fields__", {}):
            value = getattr(node, field)
            if isinstance(value, tuple):
                for item in value:
                    if isinstance(item, m.Prompt) and "${" not in item.file:
                        yield node, item


def _run(argv: list[str], what: str, stdin: bytes | None = None) -> None:
    try:
        done = subprocess.run(argv, input=stdin, capture_output=True, timeout=120)
    except FileNotFoundError:
        raise SynthError(f"{argv[0]} is not installed: {what} (Debian: apt-get install {argv[0]})") from None
    except subprocess.TimeoutExpired:
        raise SynthError(f"{argv[0]} took more than 120 s: {what}") from None
    if done.returncode != 0:
        err = done.stderr.decode("utf-8", "replace").strip()[-300:]
        raise SynthError(f"{argv[0]} failed ({done.returncode}): {what}: {err}")


def check_tools(espeak: str = "espeak-ng", ffmpeg: str = "ffmpeg") -> None:
    """Raise :class:`SynthError` naming the tool when espeak-ng (with its Mandarin voice) or ffmpeg is missing."""
    for tool, package in ((espeak, "espeak-ng"), (ffmpeg, "ffmpeg")):
        if shutil.which(tool) is None:
            raise SynthError(f"{tool} is not installed: it is needed to synthesize prompts "
                             f"(Debian: apt-get install {package})")
    _run([espeak, "-v", VOICE, "-q", "测试"], f"espeak-ng has no Mandarin voice {VOICE!r}")


def synthesize_one(text: str, target: Path, espeak: str = "espeak-ng", ffmpeg: str = "ffmpeg") -> None:
    """Speak ``text`` in Mandarin into ``target`` (8 kHz 16-bit mono WAV); the file appears only when complete."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")   # beside the target, so the rename is atomic
    with tempfile.TemporaryDirectory(prefix="cti-prompt-") as tmp:
        spoken = Path(tmp) / "espeak.wav"   # espeak-ng's own rate (22050 Hz)
        _run([espeak, "-v", VOICE, "-w", str(spoken), "--", text], f"speaking {target.name}")
        try:
            _run([ffmpeg, "-nostdin", "-loglevel", "error", "-y", "-i", str(spoken), "-ar", str(SAMPLE_RATE),
                  "-ac", "1", "-c:a", "pcm_s16le", "-map_metadata", "-1", "-fflags", "+bitexact",
                  "-flags:a", "+bitexact", "-f", "wav", str(partial)], f"resampling {target.name} to 8 kHz")
        except SynthError:
            partial.unlink(missing_ok=True)
            raise
    os.replace(partial, target)


@dataclass(frozen=True)
class Synthesized:
    name: str
    path: Path
    written: bool   # False: a file was there already and was kept


def synthesize(catalogue: dict[str, dict], out_dir: Path, force: bool = False, espeak: str = "espeak-ng",
               ffmpeg: str = "ffmpeg") -> list[Synthesized]:
    """Write ``out_dir/<prompt name>.wav`` for every catalogue prompt from its text.

    Idempotent: an existing file (perhaps the centre's own recording) is kept unless ``force``.
    """
    for name in catalogue:
        if not name or name.startswith("/") or ".." in Path(name).parts:
            raise SynthError(f"prompt {name!r}: a name must stay inside the sounds folder")
    check_tools(espeak, ffmpeg)
    done = []
    for name, entry in catalogue.items():
        target = out_dir / f"{name}.wav"
        if target.exists() and not force:
            done.append(Synthesized(name, target, False))
            continue
        text = str(entry.get("text") or "").strip() or name.rpartition("/")[2]
        synthesize_one(text, target, espeak, ffmpeg)
        done.append(Synthesized(name, target, True))
    return done

