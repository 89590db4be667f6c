"""OPTIONS answers that never fail.

DRF's SimpleMetadata describes the fields of each writable method by building the view's
serializer; a viewset action without one (``POST /reviews/{id}/helpful/``) raised an
AssertionError, so OPTIONS answered 500. The OpenAPI schema is the reference for fields,
so when no serializer can be built the ``actions`` part is simply left out.
"""

import logging

from rest_framework.metadata import SimpleMetadata

logger = logging.getLogger("nexus.metadata")


class NexusMetadata(SimpleMetadata):
    def determine_actions(self, request, view):
        try:
            return super().determine_actions(request, view)
        except Exception as exc:  # any serializer the view cannot build for OPTIONS
            logger.info("OPTIONS %s: no field description (%s)", request.path, exc)
            return {}
