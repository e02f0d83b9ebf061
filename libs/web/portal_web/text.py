"""The one text type for every string a service accepts (bodies, forms, query and path parameters).

Why: one anonymous request whose subject held a NUL byte was recorded, and the read model that
copies it into a PostgreSQL `text` column (which refuses NUL) stopped for good. Every string is
therefore checked at the edge, before anything is recorded:
- Unicode NFC, so that "ά" typed as one code point or as "α" plus an accent is the same text;
- line ends as `\n`; no other control characters than line feed and tab (NUL, escape, DEL, C1
  codes, lone surrogates): 422 naming the field;
- e-mail addresses NFKC plus casefold, so look-alikes ("ＡＢＣ@ex.gr", "Maria@Example.gr")
  collide with the address they imitate instead of becoming a second account.

Use `text(max_length)` (and `email()`) in request models and in `Query`/`Path`/`Form` parameters.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, StringConstraints

# C0 and C1 controls (but \t and \n), DEL, and lone surrogates (not valid text in any encoding).
_FORBIDDEN = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")

EMAIL_MAX = 254
_EMAIL_SHAPE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def clean_text(value: str) -> str:
    """NFC-normalise `value`; ValueError (a message for people) if it holds a control character.

    Line ends become `\n` first: a browser's text area sends `\r\n`, which is a line end, not a
    forbidden character."""
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    found = _FORBIDDEN.search(value)
    if found:
        code = f"U+{ord(found.group()):04X}"
        raise ValueError(f"contains a control character ({code}), which is not allowed")
    return unicodedata.normalize("NFC", value)


def clean_email(value: str) -> str:
    """The canonical form of an e-mail address: NFKC, casefolded, trimmed; ValueError if it is
    not shaped like an address or holds a control character."""
    address = unicodedata.normalize("NFKC", clean_text(value)).casefold().strip()
    if len(address) > EMAIL_MAX or not _EMAIL_SHAPE.match(address):
        raise ValueError("is not a valid e-mail address")
    return address


def _checked(value: Any) -> Any:
    # Non-strings go on to pydantic's own type check, which words the error better.
    return clean_text(value) if isinstance(value, str) else value


def text(max_length: int, *, min_length: int = 1, strip: bool = True) -> Any:
    """A string type: checked and normalised as above, then stripped (so blank counts as
    missing) and held to `min_length`..`max_length` characters."""
    return Annotated[
        str,
        BeforeValidator(_checked),
        StringConstraints(strip_whitespace=strip, min_length=min_length, max_length=max_length),
    ]


Email = Annotated[
    str,
    BeforeValidator(_checked),
    StringConstraints(max_length=EMAIL_MAX),
    AfterValidator(clean_email),
]
"""An e-mail address in its canonical form (see `clean_email`)."""
