"""Webhooks: endpoints admins register, the events they receive, every delivery and its log.

A domain of its own, not plumbing: it owns tables (endpoints with their secrets and failure
counts, events, deliveries), business rules (subscriptions, deactivation after repeated
failures, redelivery) and an admin API, and it reads the order and product representations
of the apps below it. It sits on top of the dependency order (``... <- orders <- webhooks``):
catalog and orders never import it; they call ``nexus.events.event_emit`` and this app's
``services.event_record`` is registered there as a sink. Deliveries ride on the
transactional outbox of ``nexus.outbox`` (kind ``webhook``), not on a queue of their own.
"""
