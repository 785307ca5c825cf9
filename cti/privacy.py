"""Personal data in logs: caller numbers are masked everywhere they are written."""

from __future__ import annotations


def mask_number(number: str | None) -> str:
    """Mask a phone number for logs: ``13800000001`` -> ``138****0001``.

    Short service numbers (110, 12345) are not personal data and stay readable; anything with fewer
    than five digits is returned as is, an empty value as ``-``.
    """
    if not number:
        return "-"
    text = number.strip()
    if sum(ch.isdigit() for ch in text) < 5:
        return text
    if len(text) >= 8:
        head, tail = 3, 4
    else:
        head, tail = 1, 2
    return text[:head] + "*" * (len(text) - head - tail) + text[-tail:]
