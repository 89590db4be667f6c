"""Django admin for the catalog. Saves, deletes and bulk actions go through the catalog
services, so slugs are generated, stock is never written back stale (variants' stock is
read-only in forms; the bulk action adds a delta atomically), option combinations are
checked, and the public cache is invalidated exactly as for API writes."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.core.exceptions import ValidationError
from django.db.models import IntegerField, OuterRef, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce
from django.forms.models import BaseInlineFormSet

from catalog import services
from catalog.models import (
    Category,
    Product,
    ProductAttribute,
    ProductImage,
    ProductOption,
    ProductVariant,
)
from nexus.exceptions import DomainError

LOW_STOCK = 5


class StockFilter(admin.SimpleListFilter):
    title = "stock"
    parameter_name = "stock"

    def lookups(self, request, model_admin):
        return [
            ("out", "Out of stock"),
            ("low", f"Low (1-{LOW_STOCK})"),
            ("in", "In stock"),
        ]

    def queryset(self, request, queryset):
        if self.value() == "out":
            return queryset.filter(total_stock=0)
        if self.value() == "low":
            return queryset.filter(total_stock__gt=0, total_stock__lte=LOW_STOCK)
        if self.value() == "in":
            return queryset.filter(total_stock__gt=0)
        return queryset


def _total_stock() -> Coalesce:
    """The summed stock of a product's active variants, as a subquery per row."""
    stock = (
        ProductVariant.objects.filter(product=OuterRef("pk"), is_active=True)
        .order_by()
        .values("product")
        .annotate(total=Sum("stock_quantity"))
        .values("total")
    )
    return Coalesce(Subquery(stock, output_field=IntegerField()), 0)


class ProductImageFormSet(BaseInlineFormSet):
    def clean(self):
        super().clean()
        primaries = [
            form
            for form in self.forms
            if form.cleaned_data.get("is_primary") and not form.cleaned_data.get("DELETE")
        ]
        if len(primaries) > 1:
            raise ValidationError("Only one image can be the primary image.")


class ProductImageInline(admin.TabularInline):
    model = ProductImage
    formset = ProductImageFormSet
    extra = 0
    fields = ["image", "alt_text", "is_primary"]


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "parent"]
    search_fields = ["name", "slug"]
    list_select_related = ["parent"]
    readonly_fields = ["slug"]
    fields = ["name", "slug", "description", "parent"]

    def save_model(self, request, obj, form, change):
        data = {field: form.cleaned_data[field] for field in ("name", "description", "parent")}
        if change:
            services.category_update(category=obj, data=data)
        else:
            created = services.category_create(**data)
            obj.pk, obj.slug = created.pk, created.slug

    def delete_model(self, request, obj):
        services.category_delete(category=obj)

    def delete_queryset(self, request, queryset):
        for category in queryset:
            services.category_delete(category=category)


def _pairs(text: str, field: str) -> dict[str, str]:
    """``"Size: M; Color: Red"`` as ``{"Size": "M", "Color": "Red"}``."""
    pairs: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(";"))):
        name, sep, value = part.partition(":")
        if not sep or not name.strip() or not value.strip():
            raise forms.ValidationError({field: "Write Name: Value; Name: Value."})
        pairs[name.strip()] = value.strip()
    return pairs


class ProductOptionForm(forms.ModelForm):
    values_text = forms.CharField(
        label="Values", help_text="Comma-separated, in display order: S, M, L", max_length=2000
    )

    class Meta:
        model = ProductOption
        fields = ["name"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["values_text"] = ", ".join(v.value for v in self.instance.values.all())


class ProductOptionInline(admin.TabularInline):
    """A product's options; saved as one list through ``product_update``."""

    model = ProductOption
    form = ProductOptionForm
    extra = 0
    fields = ["name", "values_text"]


class ProductVariantForm(forms.ModelForm):
    options_text = forms.CharField(
        label="Options",
        required=False,
        max_length=500,
        help_text="For a new variant: Size: M; Color: Red (a value of every option).",
    )

    class Meta:
        model = ProductVariant
        fields = ["sku", "price", "compare_at_price", "stock_quantity", "is_active", "position"]

    def clean(self):
        data = super().clean()
        data["options"] = _pairs(data.get("options_text") or "", "options_text")
        return data


class ProductVariantInline(admin.TabularInline):
    """Variants on the product page; saved through the variant services. Stock of an
    existing variant is read-only here (the changelist's bulk action adjusts it)."""

    model = ProductVariant
    form = ProductVariantForm
    extra = 0
    fields = [
        "sku",
        "name",
        "options_text",
        "price",
        "compare_at_price",
        "stock_quantity",
        "is_active",
        "position",
    ]
    readonly_fields = ["name"]

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        formset.form.base_fields[
            "stock_quantity"
        ].help_text = (
            "Initial stock of a new variant; existing ones: use the variants list's action."
        )
        return formset


class ProductAttributeInline(admin.TabularInline):
    model = ProductAttribute
    extra = 0
    fields = ["name", "value"]


class ProductAdminForm(forms.ModelForm):
    stock_quantity = forms.IntegerField(
        min_value=0,
        required=False,
        initial=0,
        help_text="New product: initial stock of its default variant.",
    )

    class Meta:
        model = Product
        fields = ["name", "sku", "brand", "category", "description", "price"]
        fields += ["is_active", "is_featured"]


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    form = ProductAdminForm
    list_display = [
        "name",
        "sku",
        "brand",
        "category",
        "price",
        "total_stock",
        "is_active",
        "is_featured",
        "created_at",
    ]
    list_filter = ["category", "is_active", "is_featured", StockFilter]
    search_fields = ["name", "sku", "brand", "variants__sku"]
    list_select_related = ["category"]
    list_per_page = 50
    show_full_result_count = False  # no COUNT(*) over the whole table per page view
    readonly_fields = [
        "slug",
        "average_rating",
        "review_count",
        "created_at",
        "updated_at",
    ]
    fields = [
        "name",
        "slug",
        "sku",
        "brand",
        "category",
        "description",
        "price",
        "stock_quantity",
        "is_active",
        "is_featured",
        "average_rating",
        "review_count",
        "created_at",
        "updated_at",
    ]
    # Options first: new variants on the same page may use new option values.
    inlines = [
        ProductOptionInline,
        ProductVariantInline,
        ProductAttributeInline,
        ProductImageInline,
    ]
    actions = ["activate", "deactivate"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(total_stock=_total_stock())

    @admin.display(description="stock", ordering="total_stock")
    def total_stock(self, obj) -> int:
        return obj.total_stock

    def get_fields(self, request, obj=None):
        # Stock lives on variants: only a new product's default variant takes it here.
        fields = list(self.fields)
        return fields if obj is None else [f for f in fields if f != "stock_quantity"]

    def get_readonly_fields(self, request, obj=None):
        # An existing product's price is its variants' lowest: edit the variants.
        if obj is not None:
            return [*self.readonly_fields, "price"]
        return self.readonly_fields

    def save_model(self, request, obj, form, change):
        data = {f: form.cleaned_data[f] for f in form.cleaned_data if f in form.changed_data}
        if change:
            services.product_update(product=obj, data=data)
        else:
            data = dict(form.cleaned_data)
            data["stock_quantity"] = data.get("stock_quantity") or 0
            created = services.product_create(data=data)
            obj.pk, obj.slug = created.pk, created.slug

    def _save_options(self, request, product, formset) -> None:
        options = [
            {
                "name": row.cleaned_data["name"],
                "values": [v.strip() for v in row.cleaned_data["values_text"].split(",")],
            }
            for row in formset.forms
            if getattr(row, "cleaned_data", None) and not row.cleaned_data.get("DELETE")
        ]
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        if not formset.has_changed():
            return
        try:
            services.product_update(product=product, data={"options": options})
        except DomainError as exc:
            messages.error(request, f"Options not saved: {exc.detail}")

    def _save_attributes(self, request, product, formset) -> None:
        attributes = [
            {"name": row.cleaned_data["name"], "value": row.cleaned_data["value"]}
            for row in formset.forms
            if getattr(row, "cleaned_data", None)
            and row.cleaned_data.get("name")
            and not row.cleaned_data.get("DELETE")
        ]
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        if not formset.has_changed():
            return
        try:
            services.product_update(product=product, data={"attributes": attributes})
        except DomainError as exc:
            messages.error(request, f"Attributes not saved: {exc.detail}")

    def _save_variants(self, request, product, formset) -> None:
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        editable = ("sku", "price", "compare_at_price", "is_active", "position")
        for row in formset.forms:
            data = getattr(row, "cleaned_data", None) or {}
            existing = row.instance if row.instance.pk else None
            try:
                if existing is not None and data.get("DELETE"):
                    if not services.variant_delete(variant=existing):
                        messages.warning(request, f"{existing} is in orders: deactivated.")
                    formset.deleted_objects.append(existing)
                elif existing is not None and row.has_changed():
                    changed = {f: data[f] for f in editable if f in row.changed_data}
                    if data.get("options"):
                        changed["options"] = data["options"]
                    services.variant_update(variant=existing, data=changed)
                    formset.changed_objects.append((existing, row.changed_data))
                elif existing is None and data.get("sku") and not data.get("DELETE"):
                    fields = (*editable, "stock_quantity", "options")
                    values = {f: data[f] for f in fields if data.get(f) is not None}
                    formset.new_objects.append(
                        services.variant_create(product=product, data=values)
                    )
            except DomainError as exc:
                messages.error(request, f"Variant not saved: {exc.detail}")

    def save_formset(self, request, form, formset, change):
        """Inline rows go through the services: options and attributes as whole lists
        (``product_update``), variants one by one (``variant_create``/``update``/
        ``delete``), images through the image services (size cap, decoding, random file
        names, one primary, file clean-up), exactly as API writes do."""
        product = form.instance
        if formset.model is ProductOption:
            return self._save_options(request, product, formset)
        if formset.model is ProductAttribute:
            return self._save_attributes(request, product, formset)
        if formset.model is ProductVariant:
            return self._save_variants(request, product, formset)
        if formset.model is not ProductImage:
            return super().save_formset(request, form, formset, change)
        # The admin's change message reads these (normally set by formset.save()).
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for row in formset.forms:
            data = getattr(row, "cleaned_data", None) or {}
            existing = row.instance if row.instance.pk else None
            try:
                if existing is not None and data.get("DELETE"):
                    services.product_image_delete(image=existing)
                    formset.deleted_objects.append(existing)
                elif existing is not None and row.has_changed():
                    services.product_image_update(
                        image=existing,
                        alt_text=data.get("alt_text", ""),
                        is_primary=bool(data.get("is_primary")),
                    )
                    formset.changed_objects.append((existing, row.changed_data))
                elif existing is None and data.get("image") and not data.get("DELETE"):
                    added = services.product_image_add(
                        product=product,
                        image=data["image"],
                        alt_text=data.get("alt_text", ""),
                        is_primary=bool(data.get("is_primary")),
                    )
                    formset.new_objects.append(added)
            except DomainError as exc:
                messages.error(request, f"Image not saved: {exc.detail}")

    def get_deleted_objects(self, objs, request):
        """Django's confirmation page, without asking for the variant admin's delete
        permission: that admin refuses deleting variants from its own list (they are edited
        on the product page), but a product's variants go with it through
        ``services.product_delete``. Without this the page answered 403 even for a
        superuser. Products that order lines still protect stay listed as protected."""
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        perms_needed.discard(ProductVariant._meta.verbose_name)
        return deleted, counts, perms_needed, protected

    def delete_model(self, request, obj):
        if not services.product_delete(product=obj):
            messages.warning(request, f"{obj} is referenced by orders: deactivated instead.")

    def delete_queryset(self, request, queryset):
        for product in queryset:
            self.delete_model(request, product)

    @admin.action(description="Activate selected products")
    def activate(self, request, queryset: QuerySet[Product]):
        count = services.products_set_active(
            product_ids=list(queryset.values_list("pk", flat=True)), is_active=True
        )
        messages.success(request, f"{count} product(s) activated.")

    @admin.action(description="Deactivate selected products")
    def deactivate(self, request, queryset: QuerySet[Product]):
        count = services.products_set_active(
            product_ids=list(queryset.values_list("pk", flat=True)), is_active=False
        )
        messages.success(request, f"{count} product(s) deactivated.")


class StockDeltaForm(ActionForm):
    delta = forms.IntegerField(
        required=False,
        min_value=-1_000_000_000,
        max_value=1_000_000_000,
        help_text="Units to add to each selected variant (negative removes).",
    )


@admin.register(ProductVariant)
class ProductVariantAdmin(admin.ModelAdmin):
    """Variants across products: search by SKU, bulk stock adjustments (a delta applied
    atomically per variant by ``variants_stock_adjust``). Edit them on the product page."""

    list_display = ["sku", "product", "name", "price", "stock_quantity", "is_active"]
    list_display_links = None
    list_filter = ["is_active"]
    search_fields = ["sku", "product__name"]
    list_select_related = ["product"]
    list_per_page = 100
    show_full_result_count = False
    action_form = StockDeltaForm
    actions = ["adjust_stock"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Add the delta to the stock of the selected variants")
    def adjust_stock(self, request, queryset: QuerySet[ProductVariant]):
        raw = request.POST.get("delta", "")
        try:
            delta = int(raw)
        except ValueError:
            messages.error(request, "Give a whole number as the delta.")
            return
        adjusted, refused = services.variants_stock_adjust(
            variant_ids=list(queryset.values_list("pk", flat=True)), delta=delta
        )
        messages.success(request, f"Stock adjusted on {adjusted} variant(s).")
        for message in refused:
            messages.warning(request, f"Not adjusted: {message}")
