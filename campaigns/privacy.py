"""Who sees what of a customer: analysts study calls, not people, so they get phone
numbers with only the last four digits; recordings are served to the roles that review
call quality. Every page, API and export that shows a phone number or a recording asks
here."""

from __future__ import annotations

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


def phone_for(role: str, phone: str | None) -> str | None:
    """The phone number as this role may see it."""
    return phone if role in FULL_PHONE_ROLES else mask_phone(phone)
