"""Cart: one persistent cart per user and token-identified guest carts. Depends on `catalog`.

A guest cart joins the user's cart through ``services.cart_merge`` only, from two doors:
a login with ``cart_token`` (``receivers.cart_merge_on_login``, on the users login hook) and
a signed-in cart request that still carries ``X-Cart-Token`` (``views._CartAPIView``)."""
