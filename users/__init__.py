"""Users and authentication: the custom user model (email login, roles), the address book,
JWT issue/rotation/revocation and login throttling. Depends on nothing but `nexus`.

Hook for the apps above: a successful API login (``services.user_login``) sends Django's
``user_logged_in`` signal with ``request``, ``user`` and ``cart_token`` (the validated
``LoginSerializer.cart_token``, or None). The cart app connects ``cart.receivers.
cart_merge_on_login`` to it, which merges that guest cart; users itself never imports cart.
The other merge, a signed-in cart request carrying ``X-Cart-Token``, runs in ``cart.views``;
both call ``cart.services.cart_merge``.
"""
