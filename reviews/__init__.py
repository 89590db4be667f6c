"""Reviews: verified-purchase ratings with moderation, votes and reports. Depends on
`orders` (who bought what: ``orders.selectors``), `catalog` (the product's rating
aggregates) and `nexus` (``Idempotency-Key`` on create)."""
