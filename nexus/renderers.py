"""The API's JSON renderer: DRF's, writing with orjson (issue 18).

A product list page is about 30 KB of JSON; DRF's renderer (the standard library's
``json.dumps`` with DRF's encoder) spent about a quarter of a millisecond on it, a tenth
of an uncached page's CPU, and orjson writes the same bytes in a tenth of that
(docs/PERFORMANCE.md, "Image URLs, orjson, shared filter fields, Celery's
configuration").

Same bytes: with DRF's settings as Nexus runs them (``UNICODE_JSON``, ``COMPACT_JSON``,
no ``indent`` asked for) both write compact UTF-8, keys in insertion order, the same
escapes, and ``\\u2028``/``\\u2029`` escaped as DRF does (``test_renderers.py`` holds the
two equal over generated documents). orjson writes the JSON types (and dict, list, str
and int subclasses, UUIDs) itself; anything else it would format its own way (dates,
dataclasses) or cannot write (``Decimal``, lazy strings, integers past 64 bits, keys that
are not strings) makes the whole document go through DRF's renderer instead, so a
response never mixes the two. One difference is left, and Nexus writes no floats:
orjson spells a float with a small exponent out (``0.00001``, not ``1e-05``), the same
number, and writes a non-finite float as ``null`` where DRF's strict JSON refuses it.
"""

import orjson
from rest_framework import renderers

_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
_LINE_SEPARATORS = (b"\xe2\x80\xa8", b"\xe2\x80\xa9")  # U+2028, U+2029 in UTF-8


def _not_native(value):
    raise TypeError(type(value).__name__)


class JSONRenderer(renderers.JSONRenderer):
    """``rest_framework.renderers.JSONRenderer``, through orjson where that gives the same
    bytes (above); the project's default renderer (``REST_FRAMEWORK`` in settings)."""

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if (
            data is None
            or self.ensure_ascii
            or not self.compact
            or self.encoder_class is not renderers.JSONRenderer.encoder_class
            or self.get_indent(accepted_media_type, renderer_context or {}) is not None
        ):
            return super().render(data, accepted_media_type, renderer_context)
        try:
            body = orjson.dumps(data, default=_not_native, option=_OPTIONS)
        except TypeError:  # orjson.JSONEncodeError: a value DRF's encoder writes its own way
            return super().render(data, accepted_media_type, renderer_context)
        if b"\xe2\x80" in body:
            body = body.replace(_LINE_SEPARATORS[0], b"\\u2028")
            body = body.replace(_LINE_SEPARATORS[1], b"\\u2029")
        return body


def render_json(data) -> bytes:
    """The bytes the API's renderer writes for ``data`` (as a response to a plain request)."""
    return _RENDERER.render(data)


_RENDERER = JSONRenderer()
