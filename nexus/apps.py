"""App configuration for the project package (templates, shared checks, DRF hardening,
the request log context and the database metrics)."""

from django.apps import AppConfig


class NexusConfig(AppConfig):
    name = "nexus"
    verbose_name = "Nexus"

    def ready(self) -> None:
        from django.core.signals import request_finished, request_started

        from nexus import fields, metrics, requestcycle
        from nexus.requestid import clear_context

        fields.make_fields_strict()
        fields.make_boolean_filters_strict()
        # The request's log context lives from request_started to request_finished (after
        # Django's own response logging), never leaking into the next request on a thread.
        request_started.connect(clear_context, dispatch_uid="nexus.requestid.start")
        request_finished.connect(clear_context, dispatch_uid="nexus.requestid.finish")
        requestcycle.install()
        metrics.install_database_metrics()
        metrics.install_outbox_metrics()
