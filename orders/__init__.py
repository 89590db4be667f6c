"""Orders: checkout from the cart (signed in or guest), its pricing (shipping methods,
tax rates, vouchers: ``pricing.py``, their staff writes in ``pricing_services.py``), the
order lifecycle, the payment status and money ledger (``amount_paid``,
``amount_refunded``) and staff processing. Depends on `cart`, `catalog` (stock) and
`users` (address snapshots, ``users.selectors``). The `payments` app (Stripe, refunds)
changes orders only through these services; orders only reads its ``payments`` reverse
relation to show an order's payment attempts."""
