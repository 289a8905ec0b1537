"""Phone numbers as people type them, read with Google's libphonenumber and kept in E.164."""

import phonenumbers
from django.conf import settings


class InvalidPhoneNumber(ValueError):
    pass


def normalize_phone(raw: str, region: str | None = None) -> str:
    """The E.164 form of a phone number, or InvalidPhoneNumber with a message a person understands."""
    try:
        number = phonenumbers.parse(raw, region or settings.PHONE_DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        raise InvalidPhoneNumber(f"“{raw}” is not a phone number.") from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhoneNumber(f"“{raw}” is not a valid phone number.")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
