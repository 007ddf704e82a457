"""Logging that cannot leak a secret, whatever the level.

Our own code logs paths, counts and ids only. The filter below is a second line of defence for
third-party loggers (urllib3 logs full URLs at debug level, and a signed upload URL is a
credential): it masks bearer tokens, OAuth parameters and URL query strings in every record.

It also escapes control characters (newlines, carriage returns, escape sequences, ...) in every
message: an audience name comes from the user's data, and a name with a newline must not be
able to forge a log line. :func:`escape_control` does the same for the human output.
"""

from __future__ import annotations

import logging
import re
import sys

_PATTERNS = [
    (re.compile(r"(?i)(bearer|basic)\s+[A-Za-z0-9._~+/=-]+"), r"\1 ********"),
    (
        re.compile(
            r"(?i)\b(access_token|refresh_token|client_secret|code|code_verifier|"
            r"x-goog-signature|x-goog-credential|upload_id)=([^&\s\"']+)"
        ),
        r"\1=********",
    ),
    (re.compile(r"(https?://[^\s?\"']+)\?[^\s\"']*"), r"\1?********"),
]


# C0 and C1 controls, DEL, and the Unicode line and paragraph separators
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def escape_control(text: str) -> str:
    """``text`` with each control character shown as an escape (``\\n``, ``\\x1b``, ...)."""
    return _CONTROL.sub(
        lambda m: (
            _NAMED.get(m.group(), f"\\x{ord(m.group()):02x}")
            if ord(m.group()) < 0x100
            else f"\\u{ord(m.group()):04x}"
        ),
        text,
    )


def redact(text: str) -> str:
    """Mask tokens, OAuth parameters and URL query strings in ``text``."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactingFilter(logging.Filter):
    """Rewrites each record's message through :func:`redact` and :func:`escape_control`."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact in place; never drops a record."""
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not break logging
            message = str(record.msg)
        record.msg, record.args = escape_control(redact(message)), None
        return True


def configure(verbosity: int = 0, *, quiet: bool = False) -> None:
    """Log to stderr: warnings when quiet, info by default, debug with -v."""
    level = logging.WARNING if quiet else logging.DEBUG if verbosity > 0 else logging.INFO
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level)
    # dbt's and the connectors' chatter is not ours to show at info level.
    for noisy in ("snowflake", "dbt", "urllib3"):
        logging.getLogger(noisy).setLevel(max(level, logging.INFO))
