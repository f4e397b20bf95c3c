"""Secrets never reach a message: the values of secret keys and any URL's password are masked in every
error line and log line the shell prints (config.py marks the secret keys)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

MASK = "***"
# user:password@ after "/", at the start, or after a space, quote, "=", "(", "," or "<": the password
# runs to the last "@" before a space, quote or "/", so a password holding "@" is masked whole (and
# "scheme://user:…" is never read as user "scheme").
_URL_PASSWORD = re.compile(r"(//|^|(?<=[\s'\"=(,</]))([^\s:/@'\"]*):([^\s'\"/]+)@")
# Shorter values are too likely to be ordinary text to be replaced everywhere (a URL's password is
# masked by position whatever its length).
MIN_MASKED = 4


def mask_url_passwords(text: str) -> str:
    """``scheme://user:password@host`` → ``scheme://user:***@host`` wherever it appears in ``text``."""
    return _URL_PASSWORD.sub(rf"\1\2:{MASK}@", text)


def url_password(url: str) -> str:
    """The password part of ``url`` ("" when none or unparseable)."""
    try:
        return urlsplit(url).password or ""
    except ValueError:
        return ""


@dataclass(frozen=True)
class Redactor:
    """Masks the given secret values (and URL passwords) in a text; the shell runs every message it
    prints and every log line through one."""

    secrets: tuple[str, ...] = ()

    @classmethod
    def of(cls, values: list[str]) -> Redactor:
        kept = {v for v in values if len(v) >= MIN_MASKED}
        return cls(tuple(sorted(kept, key=len, reverse=True)))

    def __call__(self, text: str) -> str:
        text = mask_url_passwords(text)
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        return text
