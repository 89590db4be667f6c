"""Nexus project package: settings, URL routing and the API plumbing every app shares
(problem+json errors, pagination, throttles, OpenAPI helpers, health checks)."""
