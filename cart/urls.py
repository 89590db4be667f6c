"""URLs of the cart app, mounted under /api/v1/."""

urlpatterns: list = []
