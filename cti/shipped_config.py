"""Where the shipped configuration is: the checkout's ``config/``, or its copy inside an installed wheel.

The wheel carries ``config/`` as ``cti/_config/`` (setup.py's build step copies it: the repository's
``config/`` stays where the tests' Asterisk ``#include``s it and ``make demo`` reads it). ``cti init``
copies it out for editing; the simulator reads the Asterisk snippets from it.
"""

from __future__ import annotations

from pathlib import Path

PACKAGED = Path(__file__).resolve().with_name("_config")        # inside an installed wheel
CHECKOUT = Path(__file__).resolve().parents[1] / "config"       # a checkout or an editable install


def root() -> Path:
    """The folder holding cti.yaml, flows/, prompts/, hotlines.yaml and asterisk/."""
    # the wheel's copy first: a stray top-level config/ in site-packages is not ours
    return PACKAGED if PACKAGED.is_dir() else CHECKOUT


def asterisk(name: str) -> Path:
    """One of the Asterisk snippets (extensions_cti.conf, queues_cti.conf, manager_cti.conf...)."""
    return root() / "asterisk" / name
