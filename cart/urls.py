"""URLs of the cart app, mounted under /api/v1/."""

from django.urls import path

from cart import views

urlpatterns = [
    path("cart/", views.CartView.as_view(), name="cart"),
    path("cart/<int:item_id>/", views.CartItemView.as_view(), name="cart-item"),
]
