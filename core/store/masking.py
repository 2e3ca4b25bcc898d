"""Personal data shown masked: one value of a known kind, or any text that may quote some.

A column found to hold personal data (:mod:`mlcycle.data.privacy`) is shown through
:func:`mask_value` wherever its values would appear (reports, exports, the TUI). Error
messages may quote a value of any column, often one the detection has not seen yet (a CSV
line that failed to parse): every ``MlcycleError`` passes its message through
:func:`mask_text`, which masks anything *shaped* like personal data. It checks no checksum:
masking a decoy in an error message costs nothing, showing a real card number costs a lot.
"""

from __future__ import annotations

import re

DOTS = "••••"
# Human names of the kinds :mod:`mlcycle.data.privacy` detects.
LABELS = {
    "email": "email address",
    "phone": "phone number",
    "card_number": "card number",
    "iban": "IBAN",
    "ip_address": "IP address",
    "date_of_birth": "date of birth",
    "national_id": "national identifier",
    "person_name": "person name",
    "free_text": "free text with personal data",
}

_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.([A-Za-z]{2,24})")
# Where a shape may start and end: not inside a longer word, hash or id (a SHA-256 in an
# artifact's path holds digit runs as long as a card number), and not as the digits after a
# decimal point or before a fraction (0.12345678901234 is a number, not a card; a float
# column's 4532015112830366.0 still is one).
_START = r"(?<![\w.])"
_END = r"(?!\w|\.[0-9]*[1-9])"
# In messages, in this order: the first pattern to match a span masks it.
_SHAPES = (
    ("iban", re.compile(_START + r"[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?"
                        + _END)),
    ("card_number", re.compile(_START + r"[0-9](?:[ \-]?[0-9]){12,18}" + _END)),
    ("national_id", re.compile(_START + r"[0-9]{3}-[0-9]{2}-[0-9]{4}" + _END)),
    ("national_id", re.compile(_START + r"[A-Z]{2} ?[0-9]{2} ?[0-9]{2} ?[0-9]{2} ?[A-D]" + _END)),
    ("phone", re.compile(r"(?<![\w+])\+[1-9][0-9 ().\-]{6,18}[0-9]" + _END)),
    # Loopback and the any-address are the workbench's own addresses, not anybody's.
    ("ip_address", re.compile(
        _START + r"(?!127\.|0\.0\.0\.0(?![\d.]))(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}"
        r"(?:25[0-5]|2[0-4]\d|1?\d?\d)" + _END)),
    # IPv6 with "::" or five colons at least: a time of day has two.
    ("ip_address", re.compile(r"(?<![\w:])(?:[0-9a-fA-F]{1,4}:){5,7}[0-9a-fA-F]{1,4}(?![\w:])"
                              r"|(?<![\w:])(?:[0-9a-fA-F]{1,4}:)*:(?:[0-9a-fA-F]{1,4}:)*"
                              r"[0-9a-fA-F]{1,4}(?![\w:])")),
)


def mask_value(kind: str, value: object) -> str:
    """``value`` of a column holding ``kind`` as shown: an email keeps its first letter and
    top-level domain (``j***@***.com``), anything else becomes ``•••• <kind>``."""
    text = "" if value is None else str(value)
    found = _EMAIL.fullmatch(text.strip()) if kind == "email" else None
    if found:
        return f"{text.strip()[0]}***@***.{found.group(1)}"
    return f"{DOTS} {LABELS.get(kind, kind)}"


def mask_text(text: str) -> str:
    """``text`` with every email, card-like digit run, IBAN, US SSN, UK NINO, international
    phone number and IP address (other than loopback) replaced by its mask. A shape counts
    only as a whole token, so paths, hashes, ids, column names and decimals read as written."""
    text = _EMAIL.sub(lambda m: mask_value("email", m.group(0)), text)
    for kind, pattern in _SHAPES:
        text = pattern.sub(f"{DOTS} {LABELS[kind]}", text)
    return text
