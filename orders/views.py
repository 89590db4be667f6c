"""Order endpoints: checkout (idempotent), the caller's orders, cancellation, history, and
staff status and payment changes. Thin: validate, call a service or selector, serialize."""

from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from nexus.idempotency import IDEMPOTENCY_KEY_PARAMETER, idempotent
from orders import selectors, services
from orders.filters import OrderFilter
from orders.models import Order
from orders.permissions import IsStaffForObject
from orders.serializers import (
    CheckoutPreviewResponseSerializer,
    CheckoutPreviewSerializer,
    GuestOrderCreatedSerializer,
    OrderCancelSerializer,
    OrderCreateSerializer,
    OrderEventSerializer,
    OrderPaymentChangeSerializer,
    OrderSerializer,
    OrderStatusChangeSerializer,
    order_placed_data,
)
from orders.throttles import GuestCheckoutRateThrottle, GuestOrderRateThrottle

CART_TOKEN_HEADER = "X-Cart-Token"
CART_TOKEN_PARAMETER = OpenApiParameter(
    CART_TOKEN_HEADER,
    str,
    OpenApiParameter.HEADER,
    required=False,
    description="Guest checkout (no Bearer token): the guest cart's token. An unknown or "
    "missing token is an empty cart (409 `cart_empty`). Ignored when signed in.",
)
_GUEST_TOKEN = OpenApiParameter(
    "guest_token",
    str,
    OpenApiParameter.PATH,
    description="The secret from the guest checkout's answer or its email. Unknown: 404.",
)


@extend_schema_view(
    list=extend_schema(
        description="The caller's orders, newest first; staff see every order and may "
        "filter by `user`."
    ),
    retrieve=extend_schema(description="One order; another user's order is a 404."),
)
@extend_schema(tags=["orders"])
class OrderViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = OrderSerializer
    permission_classes = [IsAuthenticated]
    filterset_class = OrderFilter
    problem_statuses = {
        "create": {409, 422},
        "cancel": {409},
        "set_status": {409},
        "set_payment": {409},
    }

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Order.objects.none()
        return selectors.order_list_for(user=self.request.user)

    def get_permissions(self):
        if self.action in ("set_status", "set_payment"):
            return [IsAuthenticated(), IsStaffForObject()]
        if self.action == "create":
            return [AllowAny()]  # guests check out too (X-Cart-Token + email)
        return super().get_permissions()

    def get_throttles(self):
        throttles = super().get_throttles()
        if self.action == "create":
            throttles.append(GuestCheckoutRateThrottle())
        return throttles

    def filter_queryset(self, queryset):
        if self.action != "list":
            return queryset
        return super().filter_queryset(queryset)

    def _order_response(self, order: Order, status_code: int = status.HTTP_200_OK) -> Response:
        order = selectors.order_queryset().get(pk=order.pk)
        return Response(self.get_serializer(order).data, status=status_code)

    @extend_schema(
        request=OrderCreateSerializer,
        responses={
            201: OpenApiResponse(
                GuestOrderCreatedSerializer,
                description="The order. A guest checkout's answer also has `guest_token` "
                "(null for a signed-in caller).",
            )
        },
        parameters=[IDEMPOTENCY_KEY_PARAMETER, CART_TOKEN_PARAMETER],
        description="Places an order from the caller's cart, all or nothing: stock is taken "
        "atomically, names, SKUs and prices are copied, both addresses are stored as "
        "snapshots, the cart is emptied and a confirmation is emailed. Signed in (Bearer): "
        "the user's cart. Guest (no Bearer): the guest cart of `X-Cart-Token`, `email` "
        "required, `shipping_address` required (no address book); the answer carries "
        "`guest_token` once; throttled per client address (scope `guest_checkout`). "
        "Amounts come from the same pricing as `checkout/preview/` (shipping method, "
        "voucher, tax; see the fields). 409 `cart_empty`; 409 `out_of_stock` with one "
        "entry in `errors` per short line (`variant_id`, `product_id`, `requested`, "
        "`available`); 400 `shipping_unavailable`; 400 `voucher_invalid`, "
        "`voucher_not_started`, `voucher_expired`, `voucher_min_subtotal`, "
        "`voucher_used_up`, `voucher_already_used`; 400 `order_total_too_large`.",
    )
    @idempotent
    def create(self, request):
        serializer = OrderCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        if request.user.is_authenticated:
            data.pop("email", None)
            order = services.order_place(user=request.user, **data)
            return Response(self._placed_data(order, guest=False), status=status.HTTP_201_CREATED)
        order = services.order_place(
            user=None, cart_token=request.headers.get(CART_TOKEN_HEADER, "").strip(), **data
        )
        return Response(self._placed_data(order, guest=True), status=status.HTTP_201_CREATED)

    def _placed_data(self, order: Order, *, guest: bool) -> dict:
        """The checkout's answer: ``order_placed_data`` (no serializer fields built) for an
        order fresh from ``order_place``, the serializer otherwise (its lines' ids unknown)."""
        if selectors.order_is_fresh(order):
            return order_placed_data(
                order, user=self.request.user, guest=guest, guest_token=order.guest_token
            )
        shaped = selectors.order_as_placed(order)
        if not guest:
            return self.get_serializer(shaped).data
        context = {**self.get_serializer_context(), "guest": True, "guest_token": order.guest_token}
        return GuestOrderCreatedSerializer(shaped, context=context).data

    @extend_schema(
        request=OrderCancelSerializer,
        responses={200: OrderSerializer},
        description="Owner or staff, while `pending` or `processing`; the stock goes back. "
        "Otherwise 409 `invalid_transition`.",
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        order = self.get_object()
        serializer = OrderCancelSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        order = services.order_cancel(order=order, actor=request.user, **serializer.validated_data)
        return self._order_response(order)

    @extend_schema(
        request=OrderStatusChangeSerializer,
        responses={200: OrderSerializer},
        description="Staff only (a customer gets 403 on their own order, 404 on others').",
    )
    @action(detail=True, methods=["post"], url_path="status")
    def set_status(self, request, pk=None):
        order = self.get_object()
        serializer = OrderStatusChangeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        order = services.order_status_set(
            order=order, actor=request.user, **serializer.validated_data
        )
        return self._order_response(order)

    @extend_schema(
        request=OrderPaymentChangeSerializer,
        responses={200: OrderSerializer},
        description="Staff only (a customer gets 403 on their own order, 404 on others').",
    )
    @action(detail=True, methods=["post"], url_path="payment")
    def set_payment(self, request, pk=None):
        order = self.get_object()
        serializer = OrderPaymentChangeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        order = services.order_payment_set(
            order=order, actor=request.user, **serializer.validated_data
        )
        return self._order_response(order)

    @extend_schema(
        responses={200: OrderEventSerializer(many=True)},
        description="The order's history, oldest first: placed, status, payment and "
        "tracking changes, with who, when and the note.",
    )
    @action(detail=True, methods=["get"], filterset_class=None)
    def events(self, request, pk=None):
        order = self.get_object()
        queryset = selectors.order_events(order=order)
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(OrderEventSerializer(page, many=True).data)


# --------------------------------------------------------------------------- guests


class _GuestOrderView(APIView):
    """A guest order, found by its secret token (404 for any other token)."""

    permission_classes = [AllowAny]
    throttle_classes = [GuestOrderRateThrottle]

    def order(self, guest_token: str) -> Order:
        order = selectors.order_for_guest_token(token=guest_token)
        if order is None:
            raise NotFound("No such order.")
        return order

    def respond(self, order: Order) -> Response:
        order = selectors.order_queryset().get(pk=order.pk)
        data = OrderSerializer(order, context={"request": self.request, "guest": True}).data
        return Response(data)


class GuestOrderDetailView(_GuestOrderView):
    @extend_schema(
        tags=["orders"],
        operation_id="orders_guest_retrieve",
        parameters=[_GUEST_TOKEN],
        responses={200: OrderSerializer},
        description="A guest order by its token (throttled per client address, scope "
        "`guest_order`). `allowed_actions` lists `cancel` while it may be cancelled.",
    )
    def get(self, request, guest_token: str):
        return self.respond(self.order(guest_token))


class GuestOrderCancelView(_GuestOrderView):
    problem_statuses = {"post": {409}}

    @extend_schema(
        tags=["orders"],
        operation_id="orders_guest_cancel",
        parameters=[_GUEST_TOKEN],
        request=OrderCancelSerializer,
        responses={200: OrderSerializer},
        description="The owner's cancel for a guest order: while `pending` or `processing`; "
        "the stock and the voucher's use go back. Otherwise 409 `invalid_transition`.",
    )
    def post(self, request, guest_token: str):
        order = self.order(guest_token)
        serializer = OrderCancelSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        note = serializer.validated_data.get("note") or "Cancelled by the guest customer."
        return self.respond(services.order_cancel(order=order, actor=None, note=note))


# --------------------------------------------------------------------------- preview


class CheckoutPreviewView(APIView):
    permission_classes = [AllowAny]
    problem_statuses = {"post": {409}}

    def get_throttles(self):
        return [*super().get_throttles(), GuestCheckoutRateThrottle()]

    @extend_schema(
        tags=["orders"],
        operation_id="checkout_preview",
        request=CheckoutPreviewSerializer,
        responses={200: CheckoutPreviewResponseSerializer},
        parameters=[CART_TOKEN_PARAMETER],
        description="What POST `orders/` with this body would charge now (the same pricing "
        "function), without writing anything: Bearer for the user's cart, or a guest's "
        "`X-Cart-Token`. Lines that could not be ordered now are priced and reported in "
        "`warnings`. Same refusals as POST `orders/` except stock: 409 `cart_empty`, 400 "
        "`shipping_unavailable`, 400 `voucher_*`, 400 for addresses. `once_per_customer` "
        "is checked for the account, or for a guest's `email` when given.",
    )
    def post(self, request):
        serializer = CheckoutPreviewSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        if request.user.is_authenticated:
            data.pop("email", None)
            quote = services.order_preview(user=request.user, **data)
        else:
            quote = services.order_preview(
                user=None, cart_token=request.headers.get(CART_TOKEN_HEADER, "").strip(), **data
            )
        return Response(CheckoutPreviewResponseSerializer(quote).data)
