"""Orders: checkout from the cart, the order lifecycle, payments and staff processing.
Depends on `cart` and `catalog` (stock)."""
