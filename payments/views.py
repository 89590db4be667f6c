"""Payment endpoints: start or resume a card payment, the client's confirmation, staff
refunds, and Stripe's signed webhook. Thin: check who may act, call a service, serialize."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.parsers import BaseParser
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from nexus.idempotency import IDEMPOTENCY_KEY_PARAMETER, idempotent
from nexus.openapi import NexusAutoSchema
from orders.permissions import IsStaffForObject
from orders.selectors import order_for_guest_token
from orders.throttles import GuestOrderRateThrottle
from payments import selectors, services
from payments.serializers import (
    PaymentSerializer,
    RefundCreateSerializer,
    RefundSerializer,
    WebhookAckSerializer,
)

_OWNER_ONLY = "Only the order's owner may pay it."


def _owned_order(request, order_id: int):
    order = selectors.order_visible_to(user=request.user, order_id=order_id)
    if order.user_id != request.user.pk:
        raise PermissionDenied(_OWNER_ONLY)  # staff see the order but do not pay for it
    return order


@extend_schema(tags=["payments"])
class OrderPaymentCreateView(APIView):
    permission_classes = [IsAuthenticated]
    problem_statuses = {"post": {409, 502}}

    @extend_schema(
        operation_id="orders_payments_create",
        request=None,
        responses={201: PaymentSerializer, 200: PaymentSerializer},
        description="Owner only (others' orders are 404; staff get 403). For an unpaid "
        "`card` order, creates a Stripe PaymentIntent for the order total in the currency's "
        "minor unit (order number in its metadata, an Idempotency-Key on every Stripe call) "
        "-> 201; while one is still open the same one is returned -> 200 (at most one open "
        "payment per order). Confirm it with Stripe.js using `client_secret`. 409 "
        "`order_not_payable` (paid or cancelled), 409 `payment_method_not_online` (bank "
        "transfer, cash on delivery: staff record those), 400 `payment_method_unavailable` "
        "(card payments are off), 502 `payment_provider_error` (Stripe failed: retry, the "
        "same intent is reused).",
    )
    def post(self, request, order_id: int):
        order = _owned_order(request, order_id)
        payment, created = services.payment_start(order=order)
        return Response(
            PaymentSerializer(payment).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


@extend_schema(tags=["payments"])
class GuestOrderPaymentCreateView(APIView):
    """The guest's way to pay: the order is found by its secret token, as in
    ``orders/guest/{guest_token}/``; the same service as the owner's endpoint."""

    permission_classes = [AllowAny]
    throttle_classes = [GuestOrderRateThrottle]
    problem_statuses = {"post": {409, 502}}

    @extend_schema(
        operation_id="orders_guest_payments_create",
        parameters=[
            OpenApiParameter(
                "guest_token",
                OpenApiTypes.STR,
                OpenApiParameter.PATH,
                description="The secret from the guest checkout's answer or its email. "
                "Unknown: 404.",
            )
        ],
        request=None,
        responses={201: PaymentSerializer, 200: PaymentSerializer},
        description="Guest checkout (no Bearer token; throttled per client address, scope "
        "`guest_order`): the same as `orders/{id}/payments/` for the guest order of this "
        "token -> 201 with a new PaymentIntent, 200 with the one still open. Same errors. "
        "The outcome is recorded by Stripe's webhook.",
    )
    def post(self, request, guest_token: str):
        order = order_for_guest_token(token=guest_token)
        if order is None:
            raise NotFound("No such order.")
        payment, created = services.payment_start(order=order)
        return Response(
            PaymentSerializer(payment).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


@extend_schema(tags=["payments"])
class OrderPaymentConfirmView(APIView):
    permission_classes = [IsAuthenticated]
    problem_statuses = {"post": {502}}

    @extend_schema(
        operation_id="orders_payments_confirm",
        request=None,
        responses={200: PaymentSerializer},
        description="Owner only. Call after Stripe.js confirmed the card (or the 3-D Secure "
        "page returned): Nexus asks Stripe for the PaymentIntent and records the outcome "
        "exactly as the webhook does (paid once, one email, whichever arrives first or "
        "twice). The client's word is never trusted. 502 `payment_provider_error` if "
        "Stripe cannot be asked (the webhook will still arrive).",
    )
    def post(self, request, order_id: int, payment_id: int):
        order = _owned_order(request, order_id)
        payment = selectors.payment_of_order(order=order, payment_id=payment_id)
        payment = services.payment_confirm(payment=payment)
        return Response(PaymentSerializer(payment).data)


@extend_schema(tags=["payments"])
class OrderRefundCreateView(APIView):
    permission_classes = [IsAuthenticated, IsStaffForObject]
    problem_statuses = {"post": {409, 422, 502}}

    @extend_schema(
        operation_id="orders_refunds_create",
        request=RefundCreateSerializer,
        responses={201: RefundSerializer},
        parameters=[IDEMPOTENCY_KEY_PARAMETER],
        description="Staff only (a customer gets 403 on their own order, 404 on others'). "
        "Gives back `amount` (default: all that remains). Card payments are refunded at "
        "Stripe; orders paid by hand are recorded as refunded by staff. The order becomes "
        "`partially_refunded` or `refunded`, with an order event and an email. 409 "
        "`refund_exceeds_payment` (more than paid and not yet refunded; `refundable` says "
        "how much may be), 502 `payment_provider_error` (Stripe refused; nothing changed). "
        "Send an `Idempotency-Key` so a double click cannot refund twice.",
    )
    # With a key, the whole request is one transaction (nexus.idempotency): the order stays
    # locked while Stripe refunds. Should that commit fail after Stripe refunded, the
    # refund webhook records the refund from Stripe's side (matched by payment intent).
    @idempotent
    def post(self, request, order_id: int):
        order = selectors.order_visible_to(user=request.user, order_id=order_id)
        self.check_object_permissions(request, order)
        serializer = RefundCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        refund = services.refund_create(
            order=order, actor=request.user, **serializer.validated_data
        )
        return Response(RefundSerializer(refund).data, status=status.HTTP_201_CREATED)


class RawBodyParser(BaseParser):
    """Leaves the body alone: the webhook's signature is checked on the raw bytes."""

    media_type = "*/*"

    def parse(self, stream, media_type=None, parser_context=None):
        return {}


class PublicOperationSchema(NexusAutoSchema):
    """States ``security: []`` outright: no token, no session, anyone may call it (the
    signature is the authentication)."""

    def get_operation(self, *args, **kwargs):
        operation = super().get_operation(*args, **kwargs)
        if operation is not None:
            operation["security"] = []
        return operation


@extend_schema(tags=["payments"])
class StripeWebhookView(APIView):
    schema = PublicOperationSchema()
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes: list = []  # Stripe retries on its own schedule; never 429 it
    parser_classes = [RawBodyParser]
    problem_statuses = {"post": {503}}

    @extend_schema(
        operation_id="payments_stripe_webhook",
        auth=[],
        request={"application/json": OpenApiTypes.OBJECT},
        parameters=[
            OpenApiParameter(
                "Stripe-Signature",
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                required=True,
                description='`t=<unix time>,v1=<HMAC-SHA256 of "t.body" with the '
                "endpoint's signing secret>`, set by Stripe.",
            )
        ],
        responses={200: WebhookAckSerializer},
        description="Public; for Stripe only: every request must carry a valid "
        "`Stripe-Signature` for the raw body, else 400 `invalid_signature` (missing, wrong, "
        "or a timestamp older than 5 minutes: a replay) and nothing changes. Each event id "
        "is handled once (a redelivery answers `duplicate`). Handled: "
        "`payment_intent.succeeded` (full amount and currency -> order paid once, event "
        "and email; otherwise `mismatch`, not paid, an "
        "order event for staff; after expiry or a second payment: refunded automatically), "
        "`payment_intent.payment_failed` (payment `failed`, the customer may pay again), "
        "`payment_intent.canceled`, `refund.created`, `refund.updated`, `refund.failed`, "
        "`charge.refund.updated`. Any other type, or an intent or refund that is not "
        "Nexus's: 200 `ignored`, nothing changes. 503 `webhook_not_configured` while "
        "`STRIPE_WEBHOOK_SECRET` is unset (Stripe retries).",
    )
    def post(self, request):
        event_id, outcome = services.webhook_handle(
            payload=request.body, signature=request.headers.get("Stripe-Signature")
        )
        return Response({"received": True, "event_id": event_id, "outcome": outcome})
