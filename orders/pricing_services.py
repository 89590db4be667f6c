"""Writes of the pricing rules (staff): shipping methods, tax rates and vouchers. The API
and the admin both call these. A voucher's ``used_count`` is never written here: only
checkout takes a use and only a cancellation gives it back (orders.services)."""

from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Model, ProtectedError

from nexus.exceptions import FieldError
from orders.models import ShippingMethod, TaxRate, Voucher
from orders.selectors import voucher_code_normalize

_M2M = ("categories", "products")


def _save(instance: Model, data: dict[str, Any], *, unique_field: str, unique_message: str):
    m2m = {key: data.pop(key) for key in _M2M if key in data}
    for key, value in data.items():
        setattr(instance, key, value)
    # An update writes only the fields given: never a stale copy of the others (a
    # voucher's used_count moves under concurrent checkouts).
    fields = [*data, "updated_at"] if instance.pk else None
    try:
        with transaction.atomic():
            instance.save(update_fields=fields)
            for key, values in m2m.items():
                getattr(instance, key).set(values)
    except IntegrityError as exc:
        raise FieldError(unique_field, "unique", unique_message) from exc
    return instance


@transaction.atomic
def shipping_method_save(
    *, data: dict[str, Any], method: ShippingMethod | None = None
) -> ShippingMethod:
    """Create (``method`` None) or change a shipping method; countries are stored
    upper-case, without duplicates. A taken ``code`` is a 400 on ``code``."""
    data = dict(data)
    if "countries" in data:
        data["countries"] = sorted({code.upper() for code in data["countries"]})
    return _save(
        method or ShippingMethod(),
        data,
        unique_field="code",
        unique_message="A shipping method with this code exists.",
    )


@transaction.atomic
def shipping_method_delete(*, method: ShippingMethod) -> None:
    """Orders keep their own snapshot (code, name, cost), so a method can always go."""
    method.delete()


@transaction.atomic
def tax_rate_save(*, data: dict[str, Any], rate: TaxRate | None = None) -> TaxRate:
    """Create or change a rate; one per country and region (case-insensitive), else a
    400 on ``region``."""
    data = dict(data)
    if "region" in data:
        data["region"] = data["region"].strip()
    return _save(
        rate or TaxRate(),
        data,
        unique_field="region",
        unique_message="This country and region already have a rate.",
    )


@transaction.atomic
def tax_rate_delete(*, rate: TaxRate) -> None:
    rate.delete()


@transaction.atomic
def voucher_save(*, data: dict[str, Any], voucher: Voucher | None = None) -> Voucher:
    """Create or change a voucher. The code is stored upper-case (codes are
    case-insensitive); a taken code is a 400 on ``code``; ``usage_limit`` below the uses
    already taken is a 400 on ``usage_limit`` (the row is locked to compare)."""
    data = dict(data)
    if "code" in data:
        data["code"] = voucher_code_normalize(data["code"])
    if voucher is not None and "usage_limit" in data and data["usage_limit"] is not None:
        used = Voucher.objects.select_for_update().get(pk=voucher.pk).used_count
        if data["usage_limit"] < used:
            raise FieldError(
                "usage_limit", "min_value", f"This voucher has been used {used} times already."
            )
        voucher.used_count = used
    return _save(
        voucher or Voucher(),
        data,
        unique_field="code",
        unique_message="A voucher with this code exists.",
    )


@transaction.atomic
def voucher_delete(*, voucher: Voucher) -> bool:
    """Delete a voucher no order used; a used one is deactivated instead (its
    redemptions are history). Returns True when deleted."""
    try:
        with transaction.atomic():
            voucher.delete()
        return True
    except ProtectedError:
        Voucher.objects.filter(pk=voucher.pk).update(is_active=False)
        voucher.is_active = False
        return False
