"""Where the Asterisk 22 recordings live: a copy inside the repository, so a bare clone can test."""

from pathlib import Path

ASTERISK_22 = Path(__file__).resolve().parent / "fixtures" / "asterisk-22"
