"""Summaries of the operations and request/response examples of the main ones, added to
the schema by nexus/openapi.py (keyed by operationId, so no view needs editing). An
operation without an entry gets a summary made from its route. Redocly's lint checks each
example against its schema (scripts/schema_lint.sh)."""

from typing import Any

SUMMARIES = {
    "auth_register_create": "Register a customer account",
    "auth_login_create": "Log in",
    "auth_token_refresh_create": "Refresh the token pair",
    "auth_logout_create": "Log out this session",
    "auth_logout_all_create": "Log out every session",
    "auth_password_change_create": "Change the password",
    "auth_password_reset_create": "Request a password reset email",
    "auth_password_reset_confirm_create": "Set a new password from a reset link",
    "users_profile_retrieve": "Get my profile",
    "users_profile_update": "Replace my profile",
    "users_profile_partial_update": "Update my profile",
    "users_addresses_list": "List my addresses",
    "users_addresses_create": "Add an address",
    "cart_retrieve": "Get the cart",
    "cart_item_add": "Add a product to the cart",
    "cart_clear": "Empty the cart",
    "cart_item_update": "Set a cart line's quantity",
    "cart_item_partial_update": "Set a cart line's quantity (PATCH)",
    "cart_item_destroy": "Remove a cart line",
    "orders_create": "Place an order (checkout)",
    "orders_cancel_create": "Cancel an order",
    "orders_events_list": "List an order's history",
    "orders_status_create": "Change an order's status (staff)",
    "orders_payment_create": "Change an order's payment status (staff)",
    "orders_payments_create": "Start a card payment (Stripe PaymentIntent)",
    "orders_payments_confirm": "Confirm a card payment's outcome",
    "orders_refunds_create": "Refund an order (staff)",
    "payments_stripe_webhook": "Stripe webhook (Stripe-signed)",
    "products_images_create": "Upload a product image (staff)",
    "products_images_destroy": "Delete a product image (staff)",
    "products_stock_create": "Adjust a product's stock (staff)",
    "reviews_helpful_create": "Mark a review helpful",
    "reviews_helpful_destroy": "Take a helpful vote back",
    "reviews_report_create": "Report a review",
    "reviews_moderate_create": "Moderate a review (staff)",
    "health_retrieve": "Liveness",
    "health_ready_retrieve": "Readiness",
}

_TOKENS = {
    "access": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ1c2VyX2lkIjo0Mn0.c2lnbmF0dXJl",
    "refresh": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ0b2tlbl90eXBlIjoicmVmcmVzaCJ9.c2ln",
}
_USER = {
    "id": 42,
    "email": "ada@example.com",
    "username": "ada@example.com",
    "first_name": "Ada",
    "last_name": "Lovelace",
    "phone_number": "",
    "role": "customer",
    "date_joined": "2026-01-15T09:30:00Z",
}
_VALIDATION = {
    "type": "about:blank",
    "title": "Bad Request",
    "status": 400,
    "code": "validation_error",
    "detail": "The request is invalid: email: Enter a valid email address.",
    "errors": [{"field": "email", "code": "invalid", "message": "Enter a valid email address."}],
}
_OUT_OF_STOCK = {
    "type": "about:blank",
    "title": "Not enough stock",
    "status": 409,
    "code": "out_of_stock",
    "detail": "Only 1 of Fabrikam Power Drill left.",
    "errors": [
        {
            "field": "product.17",
            "code": "out_of_stock",
            "message": "Only 1 of Fabrikam Power Drill left.",
            "product_id": 17,
            "requested": 3,
            "available": 1,
        }
    ],
}
_THROTTLED = {
    "type": "about:blank",
    "title": "Too Many Requests",
    "status": 429,
    "code": "throttled",
    "detail": "Request was throttled. Expected available in 42 seconds.",
    "retry_after": 42,
}

# operationId -> {"request": {name: value}, "<status>": {name: value}}
EXAMPLES: dict[str, dict[str, dict[str, Any]]] = {
    "auth_register_create": {
        "request": {
            "customer": {
                "email": "ada@example.com",
                "password": "correct-horse-battery-staple",
                "password_confirm": "correct-horse-battery-staple",
                "first_name": "Ada",
                "last_name": "Lovelace",
            }
        },
        "201": {"registered": {"user": _USER, **_TOKENS}},
        "400": {"invalid email": _VALIDATION},
    },
    "auth_login_create": {
        "request": {
            "customer": {"email": "ada@example.com", "password": "correct-horse-battery-staple"}
        },
        "200": {"signed in": {"user": _USER, **_TOKENS}},
        "429": {"too many failures": _THROTTLED},
    },
    "auth_token_refresh_create": {
        "request": {"refresh token": {"refresh": _TOKENS["refresh"]}},
        "200": {"new pair": _TOKENS},
    },
    "cart_item_add": {
        "request": {"two drills": {"product": 17, "quantity": 2}},
    },
    "orders_create": {
        "request": {
            "default address": {"payment_method": "card"},
            "chosen addresses": {
                "shipping_address_id": 5,
                "billing_address_id": 6,
                "payment_method": "card",
                "note": "Leave it with the neighbour.",
            },
        },
        "409": {"short stock": _OUT_OF_STOCK},
    },
}


def apply_examples(operation: dict) -> None:
    examples = EXAMPLES.get(operation.get("operationId", ""))
    if not examples:
        return
    for key, named in examples.items():
        if key == "request":
            target = operation.get("requestBody", {}).get("content", {})
        else:
            target = operation.get("responses", {}).get(key, {}).get("content", {})
        for media in target.values():
            media["examples"] = {
                name: {"summary": name, "value": value} for name, value in named.items()
            }
