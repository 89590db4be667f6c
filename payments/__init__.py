"""Payments: taking and giving back money for orders through providers (``manual`` for
bank transfer and cash on delivery, ``stripe`` for cards), signed provider webhooks,
refunds, and the expiry of unpaid card orders.

Its own app because it is its own domain with its own tables (Payment, Refund,
StripeEvent), its own outside dependency (the ``stripe`` library) and its own public
endpoint (the webhook). It depends on ``orders`` (the order's lifecycle and money ledger
are changed only through ``orders.services``) and nothing depends on it: orders only
reads the ``payments`` reverse relation to show an order's payment attempts.
"""
