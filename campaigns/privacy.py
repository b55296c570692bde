"""Who sees what of a customer: analysts study calls, not people, so they get phone
numbers with only the last four digits; recordings are served to the roles that review
call quality. Every page, API and export that shows a phone number or a recording asks
here, and every free text it shows (a SIP reason, why a call ended, an error, the
agent's notes, what was said) goes through `scrub_text` first: a number can hide in
any of them."""

from __future__ import annotations

import re

from campaigns.models import Role
from campaigns.refusals import Code, Refusal

# Roles that see whole phone numbers (they dial, call back, or scrub lists).
FULL_PHONE_ROLES = frozenset({Role.ADMIN, Role.MARKETING, Role.SUPERVISOR, Role.AGENT})
# Roles that may listen to recordings (quality review).
RECORDING_ROLES = frozenset({Role.ADMIN, Role.ANALYST, Role.SUPERVISOR})
VISIBLE_DIGITS = 4
# How people and programs split a number's digits: 010-1234-5678, (02) 123.4567,
# +82 10 1234 5678, 010/1234/5678.
SEPARATORS = " \t-.()/"
# A number in free text: digits joined by up to three separators. Seven digits is the
# shortest subscriber number worth hiding; shorter runs (600s, 486, 10:30) stay.
_NUMBER = re.compile(rf"\+?\d(?:[{re.escape(SEPARATORS)}]{{0,3}}\d)*")
MIN_NUMBER_DIGITS = 7
# The user part of a SIP or tel URI: a number, or a name that is somebody's phone.
_URI_USER = re.compile(r"(?i)\b(?:(sips?):([^@\s;>,\"']+)(?=@)|(tel):([^\s;>,\"'@]+))")


class SearchRefused(Refusal, ValueError):
    """A search that would show more of a number than the role may see."""


def mask_phone(phone: str | None) -> str | None:
    """`+821011110001` -> `•••••••••0001`: the last four digits, the rest hidden but
    counted (the length still tells a mobile from a landline)."""
    if not phone:
        return phone
    digits = sum(ch.isdigit() for ch in phone)
    if digits <= VISIBLE_DIGITS:
        return "•" * len(phone)
    return _mask_digits(phone)


def phone_suffix(text: str) -> str | None:
    """The digits a number searched for must end with: separators are ignored, and a
    national number's leading 0 (010-1234-5678) is dropped so it matches the stored
    E.164 form (+821012345678)."""
    digits = re.sub(r"\D", "", text)
    if len(digits) >= 8 and digits.startswith("0"):
        digits = digits.lstrip("0")
    return digits or None


def check_search(role: str, suffix: str | None) -> None:
    """Roles that see masked numbers search by the visible digits alone: more would let
    them find a whole number digit by digit (SearchRefused, a ValueError, says so)."""
    if suffix and role not in FULL_PHONE_ROLES and len(suffix) > VISIBLE_DIGITS:
        raise SearchRefused("{role} may search by the last {digits} digits of a number at "
                            "most", role=Code(role, "role"), digits=VISIBLE_DIGITS)


def phone_for(role: str, phone: str | None) -> str | None:
    """The phone number as this role may see it."""
    return phone if role in FULL_PHONE_ROLES else mask_phone(phone)


def scrub(text: str) -> str:
    """`text` with every SIP/SIPS/tel URI's user part and every number of seven digits
    or more masked as `mask_phone` does, character for character (the sentence keeps its
    shape, the last four digits still tell two calls apart). Dates and IP addresses
    written with separators look like numbers and are masked too: a free text cannot
    tell them apart, and the call's own columns carry its times."""
    def user(m: re.Match[str]) -> str:
        scheme, part = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
        return f"{scheme}:{mask_phone(part)}"

    def number(m: re.Match[str]) -> str:
        found = m.group()
        if sum(ch.isdecimal() for ch in found) < MIN_NUMBER_DIGITS:
            return found
        return _mask_digits(found)

    return _NUMBER.sub(number, _URI_USER.sub(user, text))


def _mask_digits(text: str) -> str:
    """Like `mask_phone`, by the regex's notion of a digit (any script's), so that what
    `_NUMBER` found is exactly what gets hidden."""
    seen, out = 0, []
    for ch in reversed(text):
        if ch.isdecimal():
            seen += 1
            out.append(ch if seen <= VISIBLE_DIGITS else "•")
        else:
            out.append("•" if ch == "+" else ch)
    return "".join(reversed(out))


def scrub_text(role: str, text: str | None) -> str | None:
    """A free text as this role may read it: whole for the roles that see whole numbers,
    scrubbed (`scrub`) for the others."""
    if not text or role in FULL_PHONE_ROLES:
        return text
    return scrub(text)
