"""Query filters shared by the apps."""

import copy
from datetime import UTC, datetime

import django_filters
from django import forms
from django.http import QueryDict
from django_filters.fields import IsoDateTimeField

# Primary keys are BigAutoField (PostgreSQL bigint); ids start at 1.
ID_MIN = 1
ID_MAX = 2**63 - 1


class IdFilter(django_filters.Filter):
    """An object id: a whole number from 1 to 2**63-1, else 400 (``1.5``, ``0``, ``1e305``
    or a number beyond bigint never name an object; beyond bigint they used to reach the
    database and fail there). The schema says the same (nexus/openapi.py)."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", ID_MIN)
        kwargs.setdefault("max_value", ID_MAX)
        super().__init__(*args, **kwargs)


class _ClampedIsoDateTimeField(IsoDateTimeField):
    """An ISO 8601 date-time whose UTC value lies beyond the year range Python can hold
    (``9999-12-31T23:59:59-14:00`` is in the year 10000 in UTC) is clamped to the first or
    last representable instant: the filter means the same, and it no longer fails where
    the database driver converts it to UTC (a 500 on SQLite)."""

    def to_python(self, value):
        parsed = super().to_python(value)
        if parsed is not None and parsed.tzinfo is not None:
            try:
                parsed.astimezone(UTC)
            except OverflowError:
                edge = datetime.max if parsed.year > 1 else datetime.min
                return edge.replace(tzinfo=UTC)
        return parsed


class IsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    """``IsoDateTimeFilter`` that accepts every valid date-time (see the field above)."""

    field_class = _ClampedIsoDateTimeField


class LeanFilterSet(django_filters.FilterSet):
    """A FilterSet that is cheap to build per request (issue 18: 0.93 ms of CPU for
    ``ProductFilter`` with 13 filters, an eighth of an uncached product list page).

    django-filter deep-copies every declared filter for each instance and then builds a
    new form class, with a new form field per filter, for each instance. Here each
    filter is a shallow copy (its ``method`` re-bound to the copy, so a method filter
    calls this instance), and the form class is built once per FilterSet class: a form
    field is never changed by validation, and Django's form copies its class's fields
    for every form instance anyway. Same fields, same cleaning, same errors, same
    queries; ``BaseFilterSet.__init__`` is otherwise followed line for line.
    """

    def __init__(self, data=None, queryset=None, *, request=None, prefix=None):
        if queryset is None:
            queryset = self._meta.model._default_manager.all()
        model = queryset.model

        self.is_bound = data is not None
        self.data = data or QueryDict()
        self.queryset = queryset
        self.request = request
        self.form_prefix = prefix

        self.filters = {}
        for name, declared in self.base_filters.items():
            filter_ = copy.copy(declared)
            filter_.method = declared.method  # a FilterMethod of the copy, not the original
            filter_.model = model
            filter_.parent = self
            self.filters[name] = filter_

    def get_form_class(self):
        cls = type(self)
        form_class = cls.__dict__.get("_lean_form_class")
        if form_class is None:
            form_class = super().get_form_class()
            form_class.base_fields = _SharedFields(form_class.base_fields)
            cls._lean_form_class = form_class
        return form_class


class _SharedFields(dict):
    """A form class's fields that its forms share instead of deep-copying them.

    ``BaseForm.__init__`` deep-copies its class's fields for every form, so that a form
    may change its own fields (a queryset, choices, a widget's attributes) without
    touching the class's. A filter form never does: it is built, validated and read
    (``cleaned_data``, ``errors``), and validation reads fields without changing them
    (a model choice field's ``get`` clones its queryset). The copy of ``ProductFilter``'s
    form fields was about 170 us of the filtered list's 5 ms of CPU (docs/PERFORMANCE.md).
    Each form still gets a dict of its own (``order_fields`` and ``fields[...] = `` stay
    per form); only the field objects are shared.
    """

    def __deepcopy__(self, memo):
        return dict(self)
