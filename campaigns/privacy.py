"""Who sees what of a customer: analysts study calls, not people, so they get phone
numbers with only the last four digits; recordings are served to the roles that review
call quality. Every page, API and export that shows a phone number or a recording asks
here."""

from __future__ import annotations

import re

from campaigns.models import Role

# Roles that see whole phone numbers (they dial, call back, or scrub lists).
FULL_PHONE_ROLES = frozenset({Role.ADMIN, Role.MARKETING, Role.SUPERVISOR, Role.AGENT})
# Roles that may listen to recordings (quality review).
RECORDING_ROLES = frozenset({Role.ADMIN, Role.ANALYST, Role.SUPERVISOR})
VISIBLE_DIGITS = 4


def mask_phone(phone: str | None) -> str | None:
    """`+821011110001` -> `•••••••••0001`: the last four digits, the rest hidden but
    counted (the length still tells a mobile from a landline)."""
    if not phone:
        return phone
    digits = sum(ch.isdigit() for ch in phone)
    if digits <= VISIBLE_DIGITS:
        return "•" * len(phone)
    seen, out = 0, []
    for ch in reversed(phone):
        if ch.isdigit():
            seen += 1
            out.append(ch if seen <= VISIBLE_DIGITS else "•")
        else:
            out.append("•" if ch == "+" else ch)
    return "".join(reversed(out))


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
    them find a whole number digit by digit (ValueError says so)."""
    if suffix and role not in FULL_PHONE_ROLES and len(suffix) > VISIBLE_DIGITS:
        raise ValueError(f"{role} may search by the last {VISIBLE_DIGITS} digits of a "
                         "number at most")


def phone_for(role: str, phone: str | None) -> str | None:
    """The phone number as this role may see it."""
    return phone if role in FULL_PHONE_ROLES else mask_phone(phone)
