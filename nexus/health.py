"""Liveness and readiness endpoints for load balancers and the deploy script."""

import logging
import time

from django.core.cache import cache
from django.db import connection
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

logger = logging.getLogger("nexus.health")

_LivenessSerializer = inline_serializer(
    "Liveness", {"status": serializers.ChoiceField(choices=["ok"])}
)
_HealthSerializer = inline_serializer(
    "Health",
    {
        "status": serializers.ChoiceField(choices=["ok", "degraded", "unavailable"]),
        "checks": serializers.DictField(child=serializers.CharField()),
    },
)


class HealthView(APIView):
    """Liveness: the process answers. Touches nothing external."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes: list = []

    @extend_schema(tags=["service"], responses={200: _LivenessSerializer})
    def get(self, request):
        return Response({"status": "ok"})


def _check_database() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return True
    except Exception as exc:
        logger.warning("readiness: database check failed: %s", exc)
        connection.close_if_unusable_or_obsolete()
        return False


def _check_cache() -> bool:
    # The cache ignores connection errors (see settings), so a round trip proves it works.
    key = f"health:{time.monotonic_ns()}"
    try:
        cache.set(key, "1", timeout=5)
        ok = cache.get(key) == "1"
        cache.delete(key)
        return ok
    except Exception as exc:
        logger.warning("readiness: cache check failed: %s", exc)
        return False


class ReadinessView(APIView):
    """Readiness: 200 when PostgreSQL answers (a dead cache is 'degraded'), else 503."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes: list = []

    @extend_schema(tags=["service"], responses={200: _HealthSerializer, 503: _HealthSerializer})
    def get(self, request):
        database = _check_database()
        cache_ok = _check_cache()
        checks = {"database": "ok" if database else "down", "cache": "ok" if cache_ok else "down"}
        if not database:
            return Response({"status": "unavailable", "checks": checks}, status=503)
        return Response({"status": "ok" if cache_ok else "degraded", "checks": checks})
