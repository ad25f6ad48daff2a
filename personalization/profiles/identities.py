"""
What a valid identity value is, per namespace: the one rule the CSV import, the ingestion API and the lookup share.

A value is refused when it is empty, longer than the identity column, holds a character nobody can see or type
(controls such as NUL, format characters such as a BOM or a zero-width space, unpaired surrogates, line and
paragraph separators: such a value can never match what a website sends), or does not have its namespace's
format (ECID, Email, Email_LC_SHA256, Phone; any other namespace: no whitespace).
"""

import re
import unicodedata
from collections.abc import Callable

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

__all__ = ["IDENTITY_FORMATS", "MAX_IDENTITY_LENGTH", "identity_checker", "identity_problem", "invisible_character"]

MAX_IDENTITY_LENGTH = 512  # Identity.value's column size

# Per-namespace formats, as (pattern, what the format is); namespaces not listed only need no whitespace.
# ASCII classes, not \d: a \d also matches digits of other scripts, which no ECID or phone number holds.
IDENTITY_FORMATS = {
    "ECID": (re.compile(r"[0-9]{38}"), gettext_lazy("an ECID is exactly 38 digits")),
    "Email": (re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+"), gettext_lazy("an email address looks like name@example.com")),
    "Email_LC_SHA256": (
        re.compile(r"[0-9a-f]{64}"),
        gettext_lazy("a SHA-256 hash of a lowercased email is 64 lowercase hexadecimal characters"),
    ),
    "Phone": (re.compile(r"\+?[0-9]{7,15}"), gettext_lazy("a phone number is 7 to 15 digits, optionally after a +")),
}
_WHITESPACE = re.compile(r"\s")
_ASCII_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Controls, format characters, unpaired surrogates, private use, unassigned; line and paragraph separators.
_INVISIBLE_CATEGORIES = frozenset(("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"))


def invisible_character(value: str) -> str | None:
    """Return "U+200B ZERO WIDTH SPACE at position 3" for the first invisible or control character, or None."""
    if value.isascii():
        found = _ASCII_CONTROL.search(value)
        if found is None:
            return None
        position, character = found.start(), found.group()
    else:
        for position, character in enumerate(value):  # noqa: B007  (both are used after the loop)
            if unicodedata.category(character) in _INVISIBLE_CATEGORIES:
                break
        else:
            return None
    name = unicodedata.name(character, "") or _("a control character")
    return _("U+%(code)04X %(name)s at position %(position)d") % {
        "code": ord(character),
        "name": name,
        "position": position + 1,
    }


def identity_problem(value: str, namespace_code: str) -> str | None:
    """Return why `value` is not a valid identity in `namespace_code`, in words for the user, or None."""
    if value == "" or value.isspace():
        return _("The identity is empty; fill it in.")
    if len(value) > MAX_IDENTITY_LENGTH:
        return _("The identity has %(length)d characters; at most %(limit)d are allowed.") % {
            "length": len(value),
            "limit": MAX_IDENTITY_LENGTH,
        }
    invisible = invisible_character(value)
    if invisible is not None:
        return _(
            "The identity contains an invisible or control character, %(character)s; remove it "
            "(it often comes from copying a value out of a document or spreadsheet)."
        ) % {"character": invisible}
    rule = IDENTITY_FORMATS.get(namespace_code)
    if rule is not None:
        pattern, description = rule
        if not pattern.fullmatch(value):
            return _("This is not a valid %(namespace)s identity: %(rule)s.") % {
                "namespace": namespace_code,
                "rule": description,
            }
    elif _WHITESPACE.search(value):
        return _("The identity contains whitespace; %(namespace)s identities cannot.") % {"namespace": namespace_code}
    return None


def identity_checker(namespace_code: str) -> Callable[[str], bool]:
    """
    Return a function telling whether a value is a valid identity in `namespace_code`.

    The same rule as `identity_problem`, without building a message: about a microsecond for an ordinary ASCII
    value, for paths that check millions (CSV imports) or sit on every lookup.
    """
    rule = IDENTITY_FORMATS.get(namespace_code)
    matches = rule[0].fullmatch if rule is not None else None
    whitespace = _WHITESPACE.search
    control = _ASCII_CONTROL.search

    def valid(value: str) -> bool:
        if not 0 < len(value) <= MAX_IDENTITY_LENGTH:
            return False
        if value.isascii():
            if control(value) is not None:
                return False
        elif invisible_character(value) is not None:
            return False
        return matches(value) is not None if matches is not None else whitespace(value) is None

    return valid
