"""The API's renderer (nexus/renderers.py) writes the bytes DRF's JSONRenderer writes."""

import datetime
import json
import uuid
from collections import OrderedDict
from decimal import Decimal

import pytest
from django.utils.translation import gettext_lazy
from hypothesis import given
from hypothesis import settings as examples
from hypothesis import strategies as st
from rest_framework import renderers
from rest_framework.exceptions import ErrorDetail
from rest_framework.utils.serializer_helpers import ReturnDict, ReturnList

from nexus.renderers import JSONRenderer, render_json

# Every code point but surrogates (which neither can encode), the separators among them.
TEXT = st.text(st.characters(codec="utf-8")) | st.sampled_from(
    ["\u2028", "a\u2029b", "\x00\x1f\x7f"]
)
INTEGERS = st.integers(min_value=-(2**63), max_value=2**64 - 1)
SCALARS = st.none() | st.booleans() | INTEGERS | TEXT
DOCUMENTS = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=5)
        | st.tuples(inner, inner)
        | st.dictionaries(TEXT, inner, max_size=5)
    ),
    max_leaves=40,
)


def drf(data, media_type=None) -> bytes:
    return renderers.JSONRenderer().render(data, media_type)


@examples(max_examples=300, deadline=None)
@given(DOCUMENTS)
def test_json_documents_are_drfs_bytes(data):
    assert render_json(data) == drf(data)


@examples(max_examples=100, deadline=None)
@given(st.dictionaries(TEXT, DOCUMENTS, max_size=4), st.integers(min_value=2**64, max_value=2**80))
def test_what_orjson_cannot_write_goes_through_drf(data, huge):
    """Integers past 64 bits, keys that are not strings, Decimals, dates, lazy strings."""
    for odd in (
        huge,
        {1: "int key"},
        Decimal("12.30"),
        datetime.datetime(2026, 12, 7, 15, 4, 5, 123456, tzinfo=datetime.UTC),
        datetime.date(2026, 12, 7),
        gettext_lazy("Not found."),
    ):
        document = {**data, "odd": [odd]}
        assert render_json(document) == drf(document)


def test_drfs_own_containers_and_strings_and_uuids():
    data = ReturnDict(
        {
            "detail": ErrorDetail("Bad \u2028 input.", code="invalid"),
            "ordered": OrderedDict([("b", 1), ("a", 2)]),
            "rows": ReturnList([{"id": uuid.UUID(int=7)}], serializer=None),
        },
        serializer=None,
    )
    assert render_json(data) == drf(data)
    assert b"\\u2028" in render_json(data)


def test_finite_floats_are_the_same_numbers():
    """The one difference left (the module's docstring): a small exponent spelled out."""
    for value in (0.1, 1.0, -0.0, 1e16, 1e22, 1.5e300, 12345.678, 1e-05, 2.5e-7):
        assert json.loads(render_json({"value": value})) == {"value": value}


@pytest.mark.parametrize("media_type", ["application/json; indent=4", "application/json"])
def test_indent_and_none_as_drf(media_type):
    data = {"a": [1, {"b": None}], "é": "ü"}
    assert JSONRenderer().render(data, media_type) == drf(data, media_type)
    assert JSONRenderer().render(None) == drf(None) == b""


def test_plain_documents_do_not_reach_drfs_encoder(monkeypatch):
    """The fast path is taken: with json.dumps broken, plain data still renders, and what
    needs DRF's encoder reaches it."""

    def broken(*args, **kwargs):
        raise AssertionError("json.dumps called")

    monkeypatch.setattr(renderers.json, "dumps", broken)
    assert render_json({"count": 1, "results": [{"price": "9.99"}]}) == (
        b'{"count":1,"results":[{"price":"9.99"}]}'
    )
    with pytest.raises(AssertionError, match=r"json\.dumps called"):
        render_json({"price": Decimal("9.99")})


def test_the_api_renders_with_it(settings):
    assert settings.REST_FRAMEWORK["DEFAULT_RENDERER_CLASSES"] == ["nexus.renderers.JSONRenderer"]
