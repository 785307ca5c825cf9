"""The inputs from public reports (tests/fixtures/cases, byte-identical copies of ../shared/cases)."""

from __future__ import annotations

from pathlib import Path

from cti.ami.message import AmiMessage, parse

CASES = Path(__file__).resolve().parent / "fixtures" / "cases"


def case_frames(name: str) -> list[bytes]:
    """An ``.ami`` case as AMI frames (CRLF lines, without their blank line), in file order."""
    text = (CASES / name).read_bytes().replace(b"\r\n", b"\n")
    return [block.strip(b"\n").replace(b"\n", b"\r\n") for block in text.split(b"\n\n") if block.strip()]


def case_events(name: str, received_at: float | None = None) -> list[AmiMessage]:
    """The case through the real AMI parser, each message read at ``received_at`` (epoch seconds)."""
    messages, rest = parse(b"".join(f + b"\r\n\r\n" for f in case_frames(name)), received_at=received_at)
    assert rest == b""
    return messages
