"""Phone numbers in call lists: reading one as E.164 (or saying why not), and the
header names that mark a column of numbers or of time zones.

Pure functions; campaigns/importer.py reads lists with them and campaigns/dnc.py the
numbers people type.
"""

from __future__ import annotations

import re
from typing import NoReturn

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat, ValidationResult

from campaigns.refusals import Phrase, Refusal

# Matched after casefolding and removing spaces, "_", "-", "." and "#".
PHONE_COLUMN_ALIASES: tuple[str, ...] = (
    "phone", "phonenumber", "phoneno", "mobile", "mobilephone", "mobilenumber", "cell",
    "cellphone", "tel", "telno", "telephone", "msisdn",
    "전화번호", "휴대폰", "휴대폰번호", "휴대전화", "휴대전화번호", "핸드폰", "핸드폰번호",
    "연락처", "전화", "电话", "手机", "手机号", "手机号码", "电话号码", "联系电话",
)
# A column giving each contact's IANA time zone, when the number's own cannot be told
# (a mobile carried abroad, a country with several zones); same matching as above.
TIMEZONE_COLUMN_ALIASES: tuple[str, ...] = ("timezone", "tz", "zone", "시간대", "时区", "時區")
# Only used when no specific alias matches: "number" is often a customer or serial number.
GENERIC_PHONE_ALIASES: tuple[str, ...] = ("number",)

_ALIAS_STRIP = re.compile(r"[\s_\-.#]+")
_EXCEL_FLOAT = re.compile(r"\+?\d+\.0+")
_EXCEL_SCIENTIFIC = re.compile(r"\d+(?:\.\d+)?[eE]\+?\d+")
_PARSE_REASONS = {
    NumberParseException.INVALID_COUNTRY_CODE: Phrase("unknown country code"),
    NumberParseException.NOT_A_NUMBER: Phrase("no phone number digits found"),
    NumberParseException.TOO_SHORT_AFTER_IDD: Phrase("too short after the international prefix"),
    NumberParseException.TOO_SHORT_NSN: Phrase("too short"),
    NumberParseException.TOO_LONG: Phrase("too long"),
}
_LENGTH_HINTS = {
    ValidationResult.TOO_SHORT: Phrase("too few digits"),
    ValidationResult.TOO_LONG: Phrase("too many digits"),
    ValidationResult.INVALID_LENGTH: Phrase("wrong number of digits"),
}


class PhoneError(Refusal, ValueError):
    """Why a value is not a number to dial (a row's reason), or a region is unknown."""

    def phrase(self) -> Phrase:
        """The sentence as a Phrase: a rejected row keeps it, and a worker process sends it
        back, without the exception (and its traceback) for each bad value. The text is
        one of the literals raised below, so the catalogue has it."""
        text = self.text
        return Phrase(text, **self.values)


def normalize_phone(value: str, default_region: str) -> str:
    """Return ``value`` as E.164 or raise PhoneError (a ValueError) whose message is the
    row's reason."""
    region = check_region(default_region)
    text = value.strip()
    if not text:
        raise PhoneError("phone is empty")
    if _EXCEL_SCIENTIFIC.fullmatch(text):
        # Digits were already lost when Excel stored the number; guessing would dial strangers.
        raise PhoneError("not a phone number: Excel turned it into scientific notation; "
                         "format the column as Text and retype the numbers")
    if _EXCEL_FLOAT.fullmatch(text):
        text = text.split(".", 1)[0]  # "1012345678.0" is a number cell saved as float
    if any(ch.isalpha() for ch in text):
        # phonenumbers would map letters to keypad digits; in a call list they are typos.
        raise PhoneError("not a phone number: it contains letters; "
                         "keep only digits, spaces, dashes, brackets and a leading +")
    try:
        number = phonenumbers.parse(text, region)
    except NumberParseException as exc:
        why = _PARSE_REASONS.get(exc.error_type, str(exc))
        raise PhoneError("not a phone number: {why}", why=why) from None
    if number.extension:
        raise PhoneError("has an extension ({extension}) which cannot be dialled; "
                         "put only the number in the phone column", extension=number.extension)
    if not phonenumbers.is_valid_number(number):
        _refuse_invalid(number, region)
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def _refuse_invalid(number: phonenumbers.PhoneNumber, region: str) -> NoReturn:
    """Why a parsed number is not valid: for which country, and what is wrong with its
    length when that is what is wrong."""
    hint = _LENGTH_HINTS.get(phonenumbers.is_possible_number_with_reason(number))
    code = number.country_code
    if code != phonenumbers.country_code_for_region(region):
        if hint is None:
            raise PhoneError("not a valid phone number for country code +{code}", code=code)
        raise PhoneError("not a valid phone number for country code +{code} ({hint})",
                         code=code, hint=hint)
    if hint is None:
        raise PhoneError("not a valid phone number for region {region}", region=region)
    raise PhoneError("not a valid phone number for region {region} ({hint})",
                     region=region, hint=hint)


def try_phone(value: str, region: str) -> tuple[bool, str]:
    """Return (True, E.164) or (False, reason), the reason a Phrase."""
    try:
        return True, normalize_phone(value, region)
    except ValueError as exc:
        return False, exc.phrase() if isinstance(exc, PhoneError) else str(exc)


def alias_key(name: str) -> str:
    return _ALIAS_STRIP.sub("", name.casefold())


def list_columns(columns: list[str], limit: int = 20) -> str:
    """The column names for a sentence: the first `limit`, then how many more."""
    if not columns:
        return Phrase("(none)")
    shown = ", ".join(one_line(c) for c in columns[:limit])
    if len(columns) > limit:
        return Phrase("{shown}, ... ({more} more)", shown=shown, more=len(columns) - limit)
    return shown


def one_line(text: str) -> str:
    return " ".join(text.split())


def check_region(region: str) -> str:
    code = region.strip().upper()
    if code not in phonenumbers.SUPPORTED_REGIONS:
        raise PhoneError("unknown region {region!r}; use a two-letter country code such as "
                         "KR or US", region=region)
    return code
