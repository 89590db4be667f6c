"""DRF field hardening shared by every serializer.

DRF's ``CharField`` turns a JSON number into a string (``0`` becomes ``"0"``), so a client
sending the wrong type gets a silent coercion instead of the 400 the OpenAPI schema
promises. Every string field of the API (CharField and its subclasses: EmailField,
SlugField, RegexField, URLField, ...) must receive a JSON string.
"""

from rest_framework import fields

_original_to_internal_value = fields.CharField.to_internal_value


def _strict_to_internal_value(self, data):
    if not isinstance(data, str):
        self.fail("invalid")
    return _original_to_internal_value(self, data)


def make_char_fields_strict() -> None:
    if fields.CharField.to_internal_value is not _strict_to_internal_value:
        fields.CharField.to_internal_value = _strict_to_internal_value
