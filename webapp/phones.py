"""Phone numbers: everything is stored and compared as E.164, parsed with `phonenumbers`."""

from __future__ import annotations

import phonenumbers


class InvalidPhone(ValueError):
    """The text is not a valid phone number for the region given."""


def normalize_phone(raw: str, default_region: str) -> str:
    """Return `raw` as E.164 ('+13125550123'), reading national numbers in `default_region`."""
    try:
        number = phonenumbers.parse(raw.strip(), default_region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhone(f"{raw!r} is not a phone number") from exc
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhone(f"{raw!r} is not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def region_of(e164: str, fallback: str) -> str:
    """The country an E.164 number belongs to, e.g. 'US' — an agent's default region."""
    try:
        region = phonenumbers.region_code_for_number(phonenumbers.parse(e164, None))
    except phonenumbers.NumberParseException:
        return fallback
    return region or fallback


def display_phone(e164: str) -> str:
    """A human form for replies: '+1 312-555-0123'."""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
