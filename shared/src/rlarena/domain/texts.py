"""Texts that come from users' code (error messages, exceptions) are stored and served capped.

An agent decides what its exception says: 300,000 characters of it were stored and served back
whole. Error texts are kept to ERROR_TEXT_CAP characters, as agents' logs are, cut visibly: the
beginning (where the error says what went wrong) is kept and a marker says how much was left out.
"""

from __future__ import annotations

ERROR_TEXT_CAP = 10_000


def cap_text(text: str, limit: int = ERROR_TEXT_CAP) -> str:
    """`text` if it fits in `limit` characters, else its beginning and a marker, `limit` characters at most."""
    if len(text) <= limit:
        return text
    longest = _marker(len(text))  # the marker for the most that could be cut: it never grows past this
    if len(longest) >= limit:  # a limit too small for any marker: a plain cut
        return text[:limit]
    kept = limit - len(longest)
    return text[:kept] + _marker(len(text) - kept)


def cap_optional(text: str | None, limit: int = ERROR_TEXT_CAP) -> str | None:
    return None if text is None else cap_text(text, limit)


def _marker(cut: int) -> str:
    return f"\n[... {cut:,} more characters cut]"
