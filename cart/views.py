"""Cart endpoints for signed-in users and guests (thin: find the caller's cart, call a
service or selector, serialize).

A guest is identified by the ``X-Cart-Token`` header; the first guest add creates a cart
and answers its token in ``cart_token`` and the ``X-Cart-Token`` response header. A
signed-in request that still carries a guest token merges that guest cart first.
"""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from cart import selectors, services
from cart.models import Cart, CartItem
from cart.serializers import (
    CartItemAddSerializer,
    CartItemSerializer,
    CartItemUpdateSerializer,
    CartSerializer,
    cart_item_added_data,
)
from nexus.openapi import NO_BODY

CART_TOKEN_HEADER = "X-Cart-Token"

_TOKEN_PARAMETER = OpenApiParameter(
    CART_TOKEN_HEADER,
    str,
    OpenApiParameter.HEADER,
    required=False,
    description="A guest cart's token. Without a Bearer token it selects the guest cart "
    "(an unknown token is treated as no cart); with one, that guest cart is first merged "
    "into the user's cart and deleted.",
)
_TOKEN_RESPONSE_HEADER = OpenApiParameter(
    CART_TOKEN_HEADER,
    str,
    OpenApiParameter.HEADER,
    response=[200, 201],
    description="The guest cart's token, on every answer about a guest cart.",
)


class _CartAPIView(APIView):
    permission_classes = [AllowAny]
    problem_statuses = {"post": {409}, "put": {409}, "patch": {409}}

    def _token(self) -> str:
        return self.request.headers.get(CART_TOKEN_HEADER, "").strip()

    def get_cart(self) -> tuple[Cart | None, list[dict]]:
        """The caller's cart (and warnings from a merge done on the way).

        Signed in: the user's cart (created on first use), after merging the guest cart
        named by X-Cart-Token. Guest: the cart of the token, or None when the token is
        missing or unknown (POST then creates one with its first line).
        """
        user = self.request.user
        token = self._token()
        if user.is_authenticated:
            warnings = services.cart_merge(user=user, token=token) if token else []
            return services.cart_get_or_create_for_user(user=user), warnings
        return selectors.cart_guest_by_token(token=token), []

    def get_item(self, cart: Cart | None, item_id: int) -> CartItem:
        item = selectors.cart_item_get(cart=cart, item_id=item_id)
        if item is None:
            raise NotFound("No such line in your cart.")
        return item

    @staticmethod
    def with_token(response: Response, cart: Cart | None) -> Response:
        if cart is not None and cart.is_guest:
            response[CART_TOKEN_HEADER] = cart.token
        return response

    def item_response(self, cart: Cart, item_id: int, status_code: int) -> Response:
        item = selectors.cart_item_for_response(cart=cart, item_id=item_id)
        data = CartItemSerializer(item, context={"request": self.request, "cart": cart}).data
        return self.with_token(Response(data, status=status_code), cart)


class CartView(_CartAPIView):
    @extend_schema(
        tags=["cart"],
        parameters=[_TOKEN_PARAMETER, _TOKEN_RESPONSE_HEADER],
        responses={200: CartSerializer},
        operation_id="cart_retrieve",
        description="The caller's cart with current prices, totals and warnings. A guest "
        "without a (known) token gets an empty cart with `id` and `cart_token` null; no "
        "cart is created. A signed-in user's cart is created on first use and its "
        "`cart_token` is always null.",
    )
    def get(self, request):
        cart, warnings = self.get_cart()
        detail = selectors.cart_detail(cart=cart, extra_warnings=warnings)
        data = CartSerializer(detail, context={"request": request}).data
        return self.with_token(Response(data), cart)

    @extend_schema(
        tags=["cart"],
        parameters=[_TOKEN_PARAMETER, _TOKEN_RESPONSE_HEADER],
        request=CartItemAddSerializer,
        responses={201: CartItemSerializer},
        operation_id="cart_item_add",
        description="Add a product variant (`variant`), or a product (`product`) that has "
        "exactly one active variant (else 400 `variant_required`); a variant already in "
        "the cart adds to its line. A guest without a (known) token gets a new guest "
        "cart: keep the `X-Cart-Token` response header. 400 for an unknown product or "
        "variant or a line above the maximum, 409 `product_unavailable` for an inactive "
        "product or variant, 409 `out_of_stock` (with `available` in `errors`) above the "
        "stock available.",
    )
    def post(self, request):
        serializer = CartItemAddSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        wanted = {
            "product_id": data.get("product"),
            "variant_id": data.get("variant"),
            "quantity": data["quantity"],
        }
        if request.user.is_authenticated and not self._token():
            # Nothing to merge: the add finds, locks and bumps the user's cart at once.
            item = services.cart_item_add_for_user(user=request.user, **wanted)
        else:
            cart, _ = self.get_cart()
            if cart is None:
                item = services.cart_guest_create_with_item(**wanted)
            else:
                item = services.cart_item_add(cart=cart, **wanted)
        cart = item.cart
        # The line as written, not read back (the add read everything the answer shows).
        item = selectors.cart_item_shape_added(item=item)
        data = cart_item_added_data(item, request=request, cart=cart)
        return self.with_token(Response(data, status=status.HTTP_201_CREATED), cart)

    @extend_schema(
        tags=["cart"],
        parameters=[_TOKEN_PARAMETER],
        responses={204: NO_BODY},
        operation_id="cart_clear",
        description="Empty the cart (a guest without a cart: nothing to do, still 204).",
    )
    def delete(self, request):
        cart, _ = self.get_cart()
        if cart is not None:
            services.cart_clear(cart=cart)
        return self.with_token(Response(status=status.HTTP_204_NO_CONTENT), cart)


class CartItemView(_CartAPIView):
    # Not used for lookups (get_item scopes lines to the caller's cart); it names the model
    # for tooling such as the authorization matrix test.
    queryset = CartItem.objects.none()

    def _update(self, request, item_id: int) -> Response:
        cart, _ = self.get_cart()
        # Another cart's line is a 404 whatever the body says.
        item = self.get_item(cart, item_id)
        serializer = CartItemUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        kept = services.cart_item_set_quantity(
            item=item, quantity=serializer.validated_data["quantity"]
        )
        if kept is None:
            return self.with_token(Response(status=status.HTTP_204_NO_CONTENT), cart)
        return self.item_response(cart, item.pk, status.HTTP_200_OK)

    _update_schema = extend_schema(
        tags=["cart"],
        parameters=[_TOKEN_PARAMETER, _TOKEN_RESPONSE_HEADER],
        request=CartItemUpdateSerializer,
        responses={200: CartItemSerializer, 204: NO_BODY},
        description="Set a line's quantity: 200 with the line, or 204 when `quantity` is 0 "
        "and the line was removed. Another cart's line is a 404. 409 `out_of_stock` or "
        "`product_unavailable` as for adding.",
    )

    @extend_schema(operation_id="cart_item_update")
    @_update_schema
    def put(self, request, item_id: int):
        return self._update(request, item_id)

    @extend_schema(operation_id="cart_item_partial_update")
    @_update_schema
    def patch(self, request, item_id: int):
        return self._update(request, item_id)

    @extend_schema(
        tags=["cart"],
        parameters=[_TOKEN_PARAMETER],
        responses={204: NO_BODY},
        operation_id="cart_item_destroy",
    )
    def delete(self, request, item_id: int):
        cart, _ = self.get_cart()
        services.cart_item_delete(item=self.get_item(cart, item_id))
        return self.with_token(Response(status=status.HTTP_204_NO_CONTENT), cart)
