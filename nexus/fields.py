"""DRF field hardening shared by every serializer.

DRF coerces JSON values of the wrong type: ``CharField`` turns a JSON number into a string
(``0`` becomes ``"0"``) and ``BooleanField`` takes ``0``, ``1``, ``"yes"`` or ``"on"`` for a
boolean, so a client sending the wrong type gets a silent coercion instead of the 400 the
OpenAPI schema promises. An integer field takes a JSON number only (DRF also reads ``"5"``).
A relation (``PrimaryKeyRelatedField``) reads ``""`` as null, which an HTML form needs and
a JSON client never means: the schema says integer or null, so in JSON ``""`` is a wrong
type. Every string field of the API (CharField and its subclasses:
EmailField, SlugField, RegexField, URLField, ...) must receive a JSON string, and every
boolean field a JSON ``true``/``false``. Form bodies (multipart, where every value is a
string) take ``"true"``/``"false"`` for a boolean and nothing else.

Boolean query filters (django-filter's ``BooleanFilter``) silently ignore a value they do
not understand (``?is_featured=banana`` lists everything); they answer 400 instead.
"""

from django import forms
from django.core.exceptions import ValidationError
from django.http import QueryDict
from django_filters import filters as filter_classes
from django_filters.widgets import BooleanWidget
from rest_framework import fields, relations

_original_to_internal_value = fields.CharField.to_internal_value
_original_boolean_to_internal_value = fields.BooleanField.to_internal_value
_original_decimal_to_internal_value = fields.DecimalField.to_internal_value
_original_integer_to_internal_value = fields.IntegerField.to_internal_value


def _strict_to_internal_value(self, data):
    if not isinstance(data, str):
        self.fail("invalid")
    return _original_to_internal_value(self, data)


def _from_form(field) -> bool:
    root = getattr(field, "root", None)
    return isinstance(getattr(root, "initial_data", None), QueryDict)


_FORM_BOOLEANS = {"true": True, "false": False}


def _strict_boolean_to_internal_value(self, data):
    if isinstance(data, bool):
        return data
    # A form value is a string; OpenAPI clients write a boolean part as "true"/"false".
    # DRF would also take "0", "1", "on", "yes": the schema says boolean, so they are 400.
    if _from_form(self) and isinstance(data, str) and data.lower() in _FORM_BOOLEANS:
        return _FORM_BOOLEANS[data.lower()]
    self.fail("invalid", input=data)


def _strict_decimal_to_internal_value(self, data):
    # Money is a decimal string in JSON ("9.99"), as the schema says; a JSON number would
    # be read through a float's digits. Form data is all strings anyway.
    if not isinstance(data, str) and not _from_form(self):
        self.fail("invalid")
    return _original_decimal_to_internal_value(self, data)


def _strict_integer_to_internal_value(self, data):
    # The schema says integer: a JSON string ("5") is a wrong type. A form part is a string.
    if isinstance(data, str) and not _from_form(self):
        self.fail("invalid")
    return _original_integer_to_internal_value(self, data)


_original_boolean_get_value = fields.BooleanField.get_value


def _boolean_get_value(self, dictionary):
    # DRF reads an empty form part for an optional field as "not given"; for a boolean that
    # is a wrong type, not an omission (leave the part out to take the default).
    if isinstance(dictionary, QueryDict) and dictionary.get(self.field_name) == "":
        return ""
    return _original_boolean_get_value(self, dictionary)


def _related_run_validation(self, data=fields.empty):
    # DRF's RelatedField.run_validation turns "" into None; only a form means that.
    if data == "" and _from_form(self):
        data = None
    return fields.Field.run_validation(self, data)


# (class, method name, its strict replacement), installed by ``make_fields_strict``.
_STRICT_METHODS = (
    (relations.RelatedField, "run_validation", _related_run_validation),
    (fields.BooleanField, "get_value", _boolean_get_value),
    (fields.CharField, "to_internal_value", _strict_to_internal_value),
    (fields.BooleanField, "to_internal_value", _strict_boolean_to_internal_value),
    (fields.IntegerField, "to_internal_value", _strict_integer_to_internal_value),
    (fields.DecimalField, "to_internal_value", _strict_decimal_to_internal_value),
)


def make_fields_strict() -> None:
    for owner, name, strict in _STRICT_METHODS:
        if getattr(owner, name) is not strict:
            setattr(owner, name, strict)


_BOOLEAN_WORDS = {"true": True, "false": False, "1": True, "0": False}
_original_widget_value = BooleanWidget.value_from_datadict


def _widget_value_keeping_garbage(self, data, files, name):
    value = data.get(name)
    if isinstance(value, str) and value and value.lower() not in _BOOLEAN_WORDS:
        return value  # handed to the field, which refuses it
    return _original_widget_value(self, data, files, name)


class StrictNullBooleanField(forms.NullBooleanField):
    """Empty means "no filter"; true/false/1/0 filter; anything else is invalid."""

    def to_python(self, value):
        if value in (None, ""):
            return None
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in _BOOLEAN_WORDS:
            return _BOOLEAN_WORDS[value.lower()]
        raise ValidationError("Enter true or false.", code="invalid")


_original_boolean_filter_init = filter_classes.BooleanFilter.__init__


def _boolean_filter_init(self, *args, **kwargs):
    # Plain django_filters.BooleanFilter defaults to Django's NullBooleanSelect, which
    # also turns any unknown value into "no filter"; use the query-string widget.
    kwargs.setdefault("widget", BooleanWidget)
    _original_boolean_filter_init(self, *args, **kwargs)


def make_boolean_filters_strict() -> None:
    BooleanWidget.value_from_datadict = _widget_value_keeping_garbage
    filter_classes.BooleanFilter.field_class = StrictNullBooleanField
    if filter_classes.BooleanFilter.__init__ is not _boolean_filter_init:
        filter_classes.BooleanFilter.__init__ = _boolean_filter_init
