"""Logging set-up: one format, and caller numbers masked in every line whatever the caller wrote."""

from __future__ import annotations

import logging
import re

# Mainland mobile numbers and landlines with an area code; uniqueids (10 digits + '.') do not match.
_PHONE = re.compile(r"(?<![\d.])(1[3-9]\d|0\d{2,3}-?)(\d{3,4})(\d{4})(?![\d.])")


def mask_numbers(text: str) -> str:
    return _PHONE.sub(lambda m: m.group(1) + "*" * len(m.group(2)) + m.group(3), text)


class MaskingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_numbers(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


def setup(level: str = "INFO") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    handler.addFilter(MaskingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
