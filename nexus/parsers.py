"""The project's JSON parser: DRF's, with the nesting depth bounded.

Python's JSON decoder recurses once per nested array or object, so a 20 KB body of
10,000 nested objects raised RecursionError (an unauthenticated 500 with a traceback) on
every JSON endpoint. No Nexus request body nests deeper than a few levels; anything past
``NEXUS_JSON_MAX_DEPTH`` is refused as 400 ``parse_error`` before it is decoded.
"""

import codecs
import re

from django.conf import settings
from rest_framework import renderers
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser, get_encoding
from rest_framework.settings import api_settings
from rest_framework.utils import json

# A JSON string (with its escapes); removed before counting so brackets in text do not count.
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_EMPTY_PAIR = re.compile(r"\[\]|\{\}")


def json_depth_exceeds(text: str, limit: int) -> bool:
    """Whether ``text`` nests arrays/objects deeper than ``limit``.

    Strings are dropped and only brackets kept; then each pass removes the innermost
    ``[]``/``{}`` pairs (all regex work, no Python loop per character). Well-formed JSON
    of depth d is empty after d passes, so anything left after ``limit`` passes is deeper
    than the limit (or malformed, which the decoder would refuse anyway).
    """
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    if len(brackets) <= 2 * limit:
        return False
    for _ in range(limit):
        brackets, removed = _EMPTY_PAIR.subn("", brackets)
        if not brackets:
            return False
        if not removed:
            break
    return bool(brackets)


class BoundedJSONParser(JSONParser):
    media_type = "application/json"
    renderer_class = renderers.JSONRenderer
    strict = api_settings.STRICT_JSON

    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        encoding = get_encoding(parser_context)
        try:
            text = codecs.getreader(encoding)(stream).read()
        except (UnicodeDecodeError, ValueError) as exc:
            raise ParseError(f"JSON parse error - {exc}") from exc
        limit = settings.NEXUS_JSON_MAX_DEPTH
        if json_depth_exceeds(text, limit):
            raise ParseError(f"JSON parse error - nested deeper than {limit} levels.")
        try:
            parse_constant = json.strict_constant if self.strict else None
            return json.loads(text, parse_constant=parse_constant)
        except (ValueError, RecursionError) as exc:
            raise ParseError(f"JSON parse error - {exc}") from exc
