"""OpenAPI helpers of the orders app.

The order status enum is registered as its own ``OrderStatusEnum`` component: other apps
name a field ``status`` too (health, reviews), and drf-spectacular's enum naming would
otherwise warn about the collision (settings' ENUM_NAME_OVERRIDES could do the same).
"""

from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.plumbing import ResolvedComponent
from rest_framework import serializers

from orders.choices import OrderStatus


class OrderStatusField(serializers.ChoiceField):
    def __init__(self, **kwargs):
        super().__init__(choices=OrderStatus.choices, **kwargs)


class OrderStatusFieldExtension(OpenApiSerializerFieldExtension):
    target_class = OrderStatusField

    def map_serializer_field(self, auto_schema, direction):
        component = ResolvedComponent(
            name="OrderStatusEnum",
            type=ResolvedComponent.SCHEMA,
            object="OrderStatusEnum",
            schema={
                "type": "string",
                "enum": OrderStatus.values,
                "description": "\n".join(f"* `{s.value}` - {s.label}" for s in OrderStatus),
            },
        )
        auto_schema.registry.register_on_missing(component)
        return component.ref
