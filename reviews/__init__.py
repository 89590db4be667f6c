"""Reviews: verified-purchase ratings with moderation, votes and reports. Depends on
`orders` (who bought what) and `catalog` (the product's rating aggregates)."""
