"""OpenAPI description of Nexus's Bearer authentication (registered when the app loads)."""

from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme


class NexusJWTScheme(SimpleJWTScheme):
    target_class = "users.authentication.NexusJWTAuthentication"
    name = "jwtAuth"
