"""``cti init DIR``: write an editable copy of the shipped configuration for a host (issue 22).

The copy holds cti.yaml, flows/, prompts/, hotlines.yaml, calendar-override.yaml, the Asterisk
snippets (asterisk/) and whatever else the package ships in its config (cti/shipped_config.py). In the
written cti.yaml every path that pointed into the shipped ``config/`` points into DIR (absolute, so
the layer's working directory does not matter) and ``data_dir`` is the one given (databases,
recordings and secrets follow it: cti/settings.py). Existing files are kept unless ``force``.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from cti import shipped_config

DEFAULT_DATA_DIR = Path("/var/lib/cti12345")    # deploy/cti12345.service's StateDirectory
SETTINGS = "cti.yaml"
CONFIG_MODE = 0o640   # cti.yaml holds the AMI secret: readable by root and the service's group only
# a setting's value that is a path under the shipped config/: `  flows_dir: config/flows   # comment`
_CONFIG_VALUE = re.compile(r"^(\s*[A-Za-z_]+:\s*)([\"']?)config/([^\s\"'#]*)\2", re.MULTILINE)
_DATA_DIR = re.compile(r"^data_dir:[^#\n]*?(\s*#.*)?$", re.MULTILINE)


class InitError(Exception):
    """The copy cannot be written; the message says why."""


def _files(source: Path) -> list[Path]:
    return sorted(p.relative_to(source) for p in source.rglob("*")
                  if p.is_file() and "__pycache__" not in p.parts and not p.name.startswith("."))


def settings_text(text: str, target: Path, data_dir: Path) -> str:
    """The shipped cti.yaml with its config/ paths moved into ``target`` and ``data_dir`` set."""
    text = _CONFIG_VALUE.sub(lambda m: m.group(1) + json.dumps(str(target / m.group(3)).rstrip("/")), text)
    # json.dumps: a double-quoted YAML string, whatever the path holds
    return _DATA_DIR.sub(lambda m: f"data_dir: {json.dumps(str(data_dir))}{m.group(1) or ''}", text, count=1)


def write_copy(target: Path, data_dir: Path = DEFAULT_DATA_DIR, force: bool = False) -> list[Path]:
    """Write the copy into ``target``; return the files written. Raises InitError if one exists."""
    source = shipped_config.root()
    target = target.expanduser().absolute()
    files = _files(source)
    if not (source / SETTINGS).is_file():
        raise InitError(f"no shipped configuration in {source}")
    existing = [target / f for f in files if (target / f).exists()]
    if existing and not force:
        shown = ", ".join(str(p) for p in existing[:5]) + (" ..." if len(existing) > 5 else "")
        raise InitError(f"{len(existing)} file(s) already there, kept (use --force to overwrite): {shown}")
    data_dir = data_dir.expanduser().absolute()
    for rel in files:
        dest = target / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        if rel == Path(SETTINGS):
            dest.write_text(settings_text((source / rel).read_text(encoding="utf-8"), target, data_dir),
                            encoding="utf-8")
            dest.chmod(CONFIG_MODE)
        else:
            shutil.copyfile(source / rel, dest)
    return [target / f for f in files]
