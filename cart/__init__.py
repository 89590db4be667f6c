"""Cart: one persistent cart per user and token-identified guest carts. Depends on `catalog`."""
