"""Issue 18: ``pricing_rules_for``'s hand-written statements answer what its ORM version
(``_pricing_rules_for_orm``) answers: the same methods (every concrete field, its type,
in price then code order, inactive ones left out) and the same rate (the region's over
the country's, case and spaces of the region ignored, none for another country), with
and without active methods."""

from decimal import Decimal

import pytest

from orders.models import ShippingMethod, TaxRate
from orders.selectors import _TAX_FIELDS, _pricing_rules_for_orm, pricing_rules_for

pytestmark = pytest.mark.django_db

ADDRESSES = [
    ("GB", ""),
    ("gb", " eng "),
    ("GB", "ENG"),
    ("GB", "SCT"),
    ("FR", ""),
    ("DE", "BY"),
    ("", ""),
]


def _fields(instance) -> dict:
    return {
        field.attname: getattr(instance, field.attname) for field in instance._meta.concrete_fields
    }


def _check_every_address() -> int:
    found = 0
    for country, region in ADDRESSES:
        methods, rate = pricing_rules_for(country=country, region=region)
        orm_methods, orm_rate = _pricing_rules_for_orm(country=country, region=region)
        assert [_fields(m) for m in methods] == [_fields(m) for m in orm_methods]
        assert [{k: type(v) for k, v in _fields(m).items()} for m in methods] == [
            {k: type(v) for k, v in _fields(m).items()} for m in orm_methods
        ]
        assert all(m._state.adding is False for m in methods)
        if orm_rate is None:
            assert rate is None, (country, region)
            continue
        found += 1
        assert rate == orm_rate
        for name in _TAX_FIELDS:
            assert getattr(rate, name) == getattr(orm_rate, name), name
            assert type(getattr(rate, name)) is type(getattr(orm_rate, name)), name
    return found


def test_pricing_rules_sql_answers_what_the_orm_answers():
    TaxRate.objects.create(country="GB", rate=Decimal("20.00"), applies_to_shipping=True)
    TaxRate.objects.create(country="GB", region="eng", rate=Decimal("17.50"), name="England")
    TaxRate.objects.create(country="DE", region="BY", rate=Decimal("19.00"))
    # No active method: the rate is read on its own.
    ShippingMethod.objects.create(code="off", name="Off", price=Decimal("1.00"), is_active=False)
    assert _check_every_address() == 5
    assert pricing_rules_for(country="GB", region="Eng")[1].rate == Decimal("17.50")

    ShippingMethod.objects.create(
        code="dhl", name="DHL", price=Decimal("4.90"), countries=["GB", "DE"], free_above=None
    )
    ShippingMethod.objects.create(
        code="ups",
        name="UPS",
        price=Decimal("4.90"),
        countries=[],
        free_above=Decimal("50.00"),
        estimated_days_min=1,
        estimated_days_max=3,
    )
    ShippingMethod.objects.create(code="cheap", name="Cheap", price=Decimal("2.00"))
    assert _check_every_address() == 5
    methods, rate = pricing_rules_for(country="gb", region="eng")
    assert [m.code for m in methods] == ["cheap", "dhl", "ups"]
    assert methods[1].countries == ["GB", "DE"] and rate.name == "England"
    assert pricing_rules_for(country="FR") == (methods, None)
