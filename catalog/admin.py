"""Django admin for the catalog. Saves, deletes and bulk actions go through the catalog
services, so slugs are generated, stock is never written back stale, and the public
cache is invalidated exactly as for API writes."""

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.forms.models import BaseInlineFormSet

from catalog import services
from catalog.cache import catalog_changed
from catalog.models import Category, Product, ProductImage

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
            return queryset.filter(stock_quantity=0)
        if self.value() == "low":
            return queryset.filter(stock_quantity__gt=0, stock_quantity__lte=LOW_STOCK)
        if self.value() == "in":
            return queryset.filter(stock_quantity__gt=0)
        return queryset


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


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "sku",
        "brand",
        "category",
        "price",
        "stock_quantity",
        "is_active",
        "is_featured",
        "created_at",
    ]
    list_filter = ["category", "is_active", "is_featured", StockFilter]
    search_fields = ["name", "sku", "brand"]
    list_select_related = ["category"]
    list_per_page = 50
    show_full_result_count = False  # no COUNT(*) over the whole table per page view
    readonly_fields = ["slug", "average_rating", "review_count", "created_at", "updated_at"]
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
    inlines = [ProductImageInline]
    actions = ["activate", "deactivate"]

    def get_readonly_fields(self, request, obj=None):
        # An existing product's stock changes only through atomic adjustments (the API's
        # products/{id}/stock/); a form would write back a level read before checkouts.
        if obj is not None:
            return [*self.readonly_fields, "stock_quantity"]
        return self.readonly_fields

    def save_model(self, request, obj, form, change):
        data = {f: form.cleaned_data[f] for f in form.cleaned_data if f in form.changed_data}
        if change:
            services.product_update(product=obj, data=data)
        else:
            created = services.product_create(data=form.cleaned_data)
            obj.pk, obj.slug = created.pk, created.slug

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        catalog_changed()  # inline image edits

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
