"""App configuration for the project package (templates, shared checks, DRF hardening)."""

from django.apps import AppConfig


class NexusConfig(AppConfig):
    name = "nexus"
    verbose_name = "Nexus"

    def ready(self) -> None:
        from nexus import fields

        fields.make_char_fields_strict()
        fields.make_boolean_filters_strict()
