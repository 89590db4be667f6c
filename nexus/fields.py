"""DRF field hardening shared by every serializer.

DRF coerces JSON values of the wrong type: ``CharField`` turns a JSON number into a string
(``0`` becomes ``"0"``) and ``BooleanField`` takes ``0``, ``1``, ``"yes"`` or ``"on"`` for a
boolean, so a client sending the wrong type gets a silent coercion instead of the 400 the
OpenAPI schema promises. Every string field of the API (CharField and its subclasses:
EmailField, SlugField, RegexField, URLField, ...) must receive a JSON string, and every
boolean field a JSON ``true``/``false``. Form bodies (multipart, where every value is a
string) keep DRF's parsing of ``"true"``/``"false"``.
"""

from django.http import QueryDict
from rest_framework import fields

_original_to_internal_value = fields.CharField.to_internal_value
_original_boolean_to_internal_value = fields.BooleanField.to_internal_value


def _strict_to_internal_value(self, data):
    if not isinstance(data, str):
        self.fail("invalid")
    return _original_to_internal_value(self, data)


def _from_form(field) -> bool:
    root = getattr(field, "root", None)
    return isinstance(getattr(root, "initial_data", None), QueryDict)


def _strict_boolean_to_internal_value(self, data):
    if not isinstance(data, bool) and not _from_form(self):
        self.fail("invalid", input=data)
    return _original_boolean_to_internal_value(self, data)


def make_char_fields_strict() -> None:
    if fields.CharField.to_internal_value is not _strict_to_internal_value:
        fields.CharField.to_internal_value = _strict_to_internal_value
    if fields.BooleanField.to_internal_value is not _strict_boolean_to_internal_value:
        fields.BooleanField.to_internal_value = _strict_boolean_to_internal_value
