"""``manage.py seed_database``: demo data — a category tree, products with realistic
names, brands, prices, variants, attributes and placeholder images, a demo staff user, a
demo customer and a few more customers. Apparel comes in sizes and colours, shoes in EU
sizes and colours, laptops and phones in storage sizes; everything else has one variant.
Bulk inserts in batches, so 100,000 products take well under two minutes on PostgreSQL,
with a progress bar and ETA on a terminal (plain progress lines otherwise). Also
runnable as ``python scripts/seed_database.py``.

Passwords are never fixed: the demo staff and customer passwords come from
``--staff-password``/``--customer-password`` (or NEXUS_SEED_STAFF_PASSWORD /
NEXUS_SEED_CUSTOMER_PASSWORD) or are generated and printed once. Other customers get
unusable passwords (they cannot log in).
"""

import io
import os
import random
import secrets
import time
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.db.models import ProtectedError
from django.utils import timezone
from django.utils.text import slugify
from tqdm import tqdm

from catalog import services
from catalog.cache import catalog_changed
from catalog.models import (
    Category,
    Product,
    ProductImage,
    ProductVariant,
)
from users.models import email_key

# top-level category -> {subcategory: (nouns, price range)}
TREE: dict[str, dict[str, tuple[list[str], tuple[int, int]]]] = {
    "Electronics": {
        "Laptops": (["Laptop", "Ultrabook", "Notebook", "Chromebook"], (299, 2999)),
        "Smartphones": (["Smartphone", "Phone", "Flip Phone"], (149, 1499)),
        "Headphones": (["Headphones", "Earbuds", "Headset"], (19, 499)),
        "Cameras": (["Camera", "Action Camera", "Lens", "Tripod"], (49, 2499)),
        "Accessories": (["Charger", "Cable", "Power Bank", "Mouse", "Keyboard"], (9, 149)),
    },
    "Home & Kitchen": {
        "Cookware": (["Frying Pan", "Saucepan", "Dutch Oven", "Wok"], (19, 299)),
        "Appliances": (["Blender", "Toaster", "Kettle", "Coffee Maker"], (29, 699)),
        "Furniture": (["Desk", "Chair", "Bookshelf", "Side Table"], (49, 1299)),
        "Lighting": (["Desk Lamp", "Floor Lamp", "Pendant Light"], (19, 349)),
    },
    "Sports & Outdoors": {
        "Camping": (["Tent", "Sleeping Bag", "Backpack", "Lantern"], (19, 599)),
        "Fitness": (["Yoga Mat", "Dumbbell Set", "Resistance Band", "Kettlebell"], (9, 399)),
        "Cycling": (["Bike Helmet", "Bike Light", "Cycling Jersey"], (14, 249)),
    },
    "Clothing": {
        "Men": (["T-Shirt", "Hoodie", "Jacket", "Jeans"], (12, 249)),
        "Women": (["Dress", "Blouse", "Coat", "Sweater"], (15, 299)),
        "Shoes": (["Running Shoes", "Sneakers", "Boots", "Sandals"], (25, 249)),
    },
    "Books": {
        "Fiction": (["Novel", "Short Stories", "Thriller"], (6, 39)),
        "Non-fiction": (["Biography", "Cookbook", "History of Everything"], (8, 59)),
    },
    "Toys & Games": {
        "Board Games": (["Board Game", "Card Game", "Puzzle"], (9, 89)),
        "Building Sets": (["Building Set", "Construction Kit"], (14, 199)),
    },
}
BRANDS = [
    "Northwind", "Acme", "Contoso", "Fabrikam", "Tailspin", "Litware", "Proseware",
    "Adventure Works", "Lumen", "Vertex", "Orbit", "Summit", "Nimbus", "Polaris", "Harbor",
    "Everline", "Kestrel", "Bluefin", "Redwood", "Ironclad", "Moonstone", "Solace",
]  # fmt: skip
ADJECTIVES = [
    "Ultra", "Pro", "Classic", "Compact", "Wireless", "Deluxe", "Eco", "Smart", "Lite",
    "Premium", "Rugged", "Slim", "Essential", "Advanced", "Travel", "Studio", "Heritage",
]  # fmt: skip
COLORS = ["Black", "White", "Silver", "Navy", "Forest Green", "Crimson", "Sand", "Graphite"]
FEATURES = [
    "built to last", "designed for everyday use", "with a two-year warranty",
    "made from recycled materials", "easy to clean", "lightweight and durable",
    "with a sleek modern finish", "tested by our experts", "a customer favourite",
    "energy efficient", "ideal as a gift", "backed by great support",
]  # fmt: skip
PLACEHOLDER_COLORS = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948"]
APPAREL_SIZES = ["XS", "S", "M", "L", "XL", "XXL"]
SHOE_SIZES = ["38", "39", "40", "41", "42", "43", "44", "45", "46"]
STORAGE = [("128 GB", 0), ("256 GB", 100), ("512 GB", 250), ("1 TB", 450)]
# (top category, subcategory) -> how its products vary
VARIES = {
    ("Clothing", "Men"): "apparel",
    ("Clothing", "Women"): "apparel",
    ("Clothing", "Shoes"): "shoes",
    ("Electronics", "Laptops"): "storage",
    ("Electronics", "Smartphones"): "storage",
}
MATERIALS = {
    "apparel": ["Cotton", "Organic Cotton", "Wool", "Linen", "Polyester", "Denim"],
    "shoes": ["Leather", "Suede", "Canvas", "Mesh"],
    "storage": ["Aluminium", "Recycled Aluminium", "Polycarbonate"],
}
ORIGINS = ["Portugal", "Vietnam", "Germany", "Italy", "Japan", "Mexico", "Turkey"]


_PRODUCT_COLUMNS = (
    "id", "name", "slug", "sku", "brand", "description", "price", "category_id",
    "is_active", "is_featured", "average_rating", "review_count", "rating_histogram",
    "created_at", "updated_at", "active_price_spread",
)  # fmt: skip
_VARIANT_COLUMNS = (
    "id", "product_id", "sku", "name", "price", "compare_at_price", "stock_quantity",
    "is_active", "position", "combination_key", "created_at", "updated_at",
)  # fmt: skip


def _ids(table: str, count: int) -> list[int]:
    """``count`` fresh primary keys of ``table`` (call inside the batch's transaction)."""
    if count == 0:
        return []
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                [table, count],
            )
            return [row[0] for row in cursor.fetchall()]
        # SQLite: one writer at a time, and the transaction holds the write lock.
        cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}")  # noqa: S608 - fixed names
        start = cursor.fetchone()[0] + 1
        return list(range(start, start + count))


def _insert(table: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
    if not rows:
        return
    names = ", ".join(columns)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            return
        marks = ", ".join(["%s"] * len(columns))
        sql = f"INSERT INTO {table} ({names}) VALUES ({marks})"  # noqa: S608 - fixed names
        cursor.executemany(sql, rows)


class _Progress:
    """A tqdm bar with an ETA on a terminal; elsewhere (CI logs, pipes) a plain line per
    batch, since a bar's carriage returns make unreadable logs."""

    def __init__(self, out, total: int):
        self.out, self.total, self.done = out, total, 0
        self.started = time.monotonic()
        self.bar = (
            tqdm(total=total, unit="products", file=out._out, smoothing=0.1)
            if out.isatty()
            else None
        )

    def advance(self, count: int, variants: int) -> None:
        self.done += count
        if self.bar is not None:
            self.bar.set_postfix(variants=variants, refresh=False)
            self.bar.update(count)
            return
        elapsed = time.monotonic() - self.started
        rate = self.done / max(elapsed, 1e-6)
        eta = (self.total - self.done) / max(rate, 1e-6)
        self.out.write(
            f"  products {self.done}/{self.total}, {variants} variants  "
            f"({elapsed:.1f}s, {rate:.0f}/s, ETA {eta:.0f}s)"
        )
        self.out.flush()  # a log file or pipe shows each line as it happens

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


class Command(BaseCommand):
    help = "Create demo data: categories, products with images, demo users."

    def add_arguments(self, parser):
        parser.add_argument("--products", type=int, default=200, help="Products wanted.")
        parser.add_argument("--customers", type=int, default=20, help="Extra customers.")
        parser.add_argument("--reset", action="store_true", help="Delete the catalog first.")
        parser.add_argument(
            "--if-empty", action="store_true", help="Do nothing when products already exist."
        )
        parser.add_argument("--batch-size", type=int, default=2000)
        parser.add_argument("--seed", type=int, default=None, help="Random seed.")
        parser.add_argument("--staff-email", default="staff@nexus.example")
        parser.add_argument("--customer-email", default="customer@nexus.example")
        parser.add_argument("--staff-password", default=os.environ.get("NEXUS_SEED_STAFF_PASSWORD"))
        parser.add_argument(
            "--customer-password", default=os.environ.get("NEXUS_SEED_CUSTOMER_PASSWORD")
        )
        parser.add_argument("--no-users", action="store_true", help="Create no users.")

    def handle(self, *args, **options):
        if options["products"] < 0:
            raise CommandError("--products must be >= 0")
        self.random = random.Random(options["seed"])  # noqa: S311 - demo data, not secrets
        started = time.monotonic()
        if options["if_empty"] and Product.objects.exists():
            self.stdout.write("Products already exist: nothing to do (--if-empty).")
            return
        if options["reset"]:
            self._reset()
        leaves = self._categories()
        images = self._placeholder_images()
        self._products(options["products"], leaves, images, options["batch_size"])
        if not options["no_users"]:
            self._users(options)
        catalog_changed()
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                # Fresh statistics for the planner, and a visibility map so that counts
                # can use index-only scans. Every table seeded here: without statistics
                # the planner read all of catalog_productimage and catalog_productoption
                # for each list page (seq scans, 5-9 ms of 20,000 rows) until autovacuum
                # got round to them, or never where it is off.
                vacuum = "" if connection.in_atomic_block else "VACUUM "  # not in a transaction
                for table in (
                    "catalog_category",
                    "catalog_product",
                    "catalog_productvariant",
                    "catalog_productvariant_option_values",
                    "catalog_productoption",
                    "catalog_productoptionvalue",
                    "catalog_productattribute",
                    "catalog_productimage",
                ):
                    cursor.execute(f"{vacuum}ANALYZE {table}")
        self.stdout.write(self.style.SUCCESS(f"Done in {time.monotonic() - started:.1f}s."))

    # ------------------------------------------------------------------ steps

    def _reset(self) -> None:
        try:
            with transaction.atomic():
                ProductImage.objects.all().delete()
                ProductVariant.objects.all().delete()
                Product.objects.all().delete()
                while Category.objects.exists():  # leaves first: parent is PROTECT
                    Category.objects.filter(children__isnull=True).delete()
        except ProtectedError as exc:
            raise CommandError(
                "Some products appear in orders; the catalog cannot be reset."
            ) from exc
        self.stdout.write("Catalog deleted.")

    def _categories(self) -> list[tuple[Category, list[str], tuple[int, int], str | None]]:
        leaves = []
        for top_name, children in TREE.items():
            top, _ = Category.objects.get_or_create(
                slug=slugify(top_name), defaults={"name": top_name}
            )
            for name, (nouns, prices) in children.items():
                child, _ = Category.objects.get_or_create(
                    slug=f"{top.slug}-{slugify(name)}", defaults={"name": name, "parent": top}
                )
                leaves.append((child, nouns, prices, VARIES.get((top_name, name))))
        self.stdout.write(f"Categories: {Category.objects.count()}.")
        return leaves

    def _placeholder_images(self) -> list[str]:
        """A few small PNGs shared by every product (never one file per product)."""
        from PIL import Image, ImageDraw

        names = []
        for index, color in enumerate(PLACEHOLDER_COLORS):
            name = f"products/placeholders/placeholder-{index}.png"
            if not default_storage.exists(name):
                image = Image.new("RGB", (320, 320), color)
                draw = ImageDraw.Draw(image)
                draw.rectangle((60, 60, 260, 260), outline="white", width=8)
                draw.line((60, 260, 160, 150, 260, 260), fill="white", width=8)
                draw.ellipse((190, 90, 230, 130), fill="white")
                buffer = io.BytesIO()
                image.save(buffer, format="PNG", optimize=True)
                name = default_storage.save(name, ContentFile(buffer.getvalue()))
            names.append(name)
        return names

    def _product(self, number: int, run: str, leaves, now) -> tuple[Product, dict]:
        """A product and its plan: ``{"options": [(name, [values])], "variants":
        [(suffix, [value indexes], price, compare_at, stock)], "attributes": [...]}``."""
        rnd = self.random
        category, nouns, (low, high), kind = rnd.choice(leaves)
        brand = rnd.choice(BRANDS)
        noun = rnd.choice(nouns)
        model = f"{rnd.choice('ABCDEFGHKMNRSTVXZ')}{rnd.randint(1, 990)}"
        name = f"{brand} {rnd.choice(ADJECTIVES)} {noun} {model}"
        if kind is None and rnd.random() < 0.4:
            name += f", {rnd.choice(COLORS)}"
        sku = f"{run}-{number:07d}"
        # log-uniform prices ending in .99, like a real shop
        price = Decimal(int(low * (high / low) ** rnd.random())) + Decimal("0.99")
        description = (
            f"The {name} by {brand}: a {noun.lower()} {rnd.choice(FEATURES)}, "
            f"{rnd.choice(FEATURES)}. Part of our {category.name.lower()} range; "
            f"{rnd.choice(FEATURES)}."
        )

        def stock() -> int:
            return 0 if rnd.random() < 0.08 else rnd.randint(1, 120)

        options: list[tuple[str, list[str]]] = []
        variants: list[tuple[str, list[int], Decimal, Decimal | None, int]] = []
        on_sale = rnd.random() < 0.15
        compare_at = (price * Decimal("1.25")).quantize(Decimal("1")) - Decimal("0.01")
        if kind in ("apparel", "shoes"):
            scale = APPAREL_SIZES if kind == "apparel" else SHOE_SIZES
            width = rnd.randint(3, 5) if kind == "apparel" else rnd.randint(4, 7)
            start = rnd.randint(0, len(scale) - width)
            sizes = scale[start : start + width]
            colors = rnd.sample(COLORS, rnd.randint(1, 3))
            options = [("Size", sizes), ("Color", colors)]
            for s_index, size in enumerate(sizes):
                for c_index, color in enumerate(colors):
                    variants.append(
                        (
                            f"{size}-{color[:3].upper()}",
                            [s_index, c_index],
                            price,
                            compare_at if on_sale else None,
                            stock(),
                        )
                    )
        elif kind == "storage":
            count = rnd.randint(2, 4)
            tiers = STORAGE[:count]
            options = [("Storage", [label for label, _ in tiers])]
            for index, (label, extra) in enumerate(tiers):
                tier_price = price + extra
                variants.append(
                    (
                        label.replace(" ", ""),
                        [index],
                        tier_price,
                        (tier_price * Decimal("1.2")).quantize(Decimal("1")) - Decimal("0.01")
                        if on_sale
                        else None,
                        stock(),
                    )
                )
        else:
            variants.append(("", [], price, compare_at if on_sale else None, stock()))
        attributes = [("Brand line", f"{brand} {noun}")]
        if kind in MATERIALS:
            attributes.append(("Material", rnd.choice(MATERIALS[kind])))
        if rnd.random() < 0.5:
            attributes.append(("Made in", rnd.choice(ORIGINS)))
        prices = [variant[2] for variant in variants]
        product = Product(
            active_price_spread=max(prices) - min(prices),  # every seeded variant is active
            name=name[:200],
            slug=f"{slugify(name)[:180]}-{sku.lower()}",
            sku=sku,
            brand=brand,
            description=description,
            price=min(prices),
            category=category,
            is_active=rnd.random() > 0.03,
            is_featured=rnd.random() < 0.03,
            created_at=now - timezone.timedelta(seconds=rnd.randint(0, 365 * 24 * 3600)),
        )
        return product, {"options": options, "variants": variants, "attributes": attributes}

    def _insert_batch(self, planned: list[tuple[Product, dict]], images: list[str]) -> int:
        """Insert a batch of products with everything they own; returns the variants.

        Rows go in as plain tuples (COPY on PostgreSQL, executemany elsewhere) with ids
        allocated up front, so that no model instance is built per row: a variant-rich
        catalogue of 100,000 products stays well under two minutes.
        """
        now = timezone.now()
        product_ids = _ids("catalog_product", len(planned))
        option_rows, value_rows, variant_rows, link_rows, attribute_rows = [], [], [], [], []
        n_options = sum(len(plan["options"]) for _, plan in planned)
        n_values = sum(len(v) for _, plan in planned for _, v in plan["options"])
        n_variants = sum(len(plan["variants"]) for _, plan in planned)
        option_ids = iter(_ids("catalog_productoption", n_options))
        value_ids = iter(_ids("catalog_productoptionvalue", n_values))
        variant_ids = iter(_ids("catalog_productvariant", n_variants))
        product_rows = []
        for (product, plan), product_id in zip(planned, product_ids, strict=True):
            product_rows.append(
                (
                    product_id, product.name, product.slug, product.sku, product.brand,
                    product.description, product.price,
                    product.category_id, product.is_active, product.is_featured,
                    Decimal("0"), 0, "{}", product.created_at, now,
                    product.active_price_spread,
                )
            )  # fmt: skip
            values_by_option: list[list[tuple[int, str]]] = []
            for position, (name, values) in enumerate(plan["options"]):
                option_id = next(option_ids)
                option_rows.append((option_id, product_id, name, position))
                created = []
                for value_position, value in enumerate(values):
                    value_id = next(value_ids)
                    value_rows.append((value_id, option_id, value, value_position))
                    created.append((value_id, value))
                values_by_option.append(created)
            for position, (suffix, picks, price, compare_at, stock) in enumerate(plan["variants"]):
                chosen = [values_by_option[o][pick] for o, pick in enumerate(picks)]
                variant_id = next(variant_ids)
                variant_rows.append(
                    (
                        variant_id, product_id,
                        f"{product.sku}-{suffix}" if suffix else product.sku,
                        " / ".join(value for _, value in chosen), price, compare_at, stock,
                        True, position, ",".join(str(pk) for pk in sorted(p for p, _ in chosen)),
                        now, now,
                    )
                )  # fmt: skip
                link_rows.extend((variant_id, value_id) for value_id, _ in chosen)
            attribute_rows.extend(
                (product_id, name, value, n) for n, (name, value) in enumerate(plan["attributes"])
            )
        _insert("catalog_product", _PRODUCT_COLUMNS, product_rows)
        # The categories' denormalised counts, in the batch's transaction (as the services do).
        added: dict[int, int] = {}
        for product, _ in planned:
            if product.is_active:
                added[product.category_id] = added.get(product.category_id, 0) + 1
        services.category_product_counts_add(deltas=added)
        _insert("catalog_productoption", ("id", "product_id", "name", "position"), option_rows)
        _insert("catalog_productoptionvalue", ("id", "option_id", "value", "position"), value_rows)
        _insert("catalog_productvariant", _VARIANT_COLUMNS, variant_rows)
        _insert(
            ProductVariant.option_values.through._meta.db_table,
            ("productvariant_id", "productoptionvalue_id"),
            link_rows,
        )
        _insert(
            "catalog_productattribute", ("product_id", "name", "value", "position"), attribute_rows
        )
        _insert(
            "catalog_productimage",
            ("product_id", "image", "alt_text", "is_primary", "created_at"),
            [
                (product_id, images[product_id % len(images)], row[1][:200], True, now)
                for product_id, row in zip(product_ids, product_rows, strict=True)
            ],
        )
        return len(variant_rows)

    def _products(self, wanted: int, leaves, images: list[str], batch_size: int) -> None:
        existing = Product.objects.count()
        missing = wanted - existing
        if missing <= 0:
            self.stdout.write(f"Products: {existing} already (wanted {wanted}); none added.")
            return
        run = f"NX{secrets.token_hex(2).upper()}"
        now = timezone.now()
        created = variants = 0
        progress = _Progress(self.stdout, missing)
        try:
            while created < missing:
                size = min(batch_size, missing - created)
                planned = [self._product(created + i, run, leaves, now) for i in range(size)]
                with transaction.atomic():
                    variants += self._insert_batch(planned, images)
                created += size
                progress.advance(size, variants)
        finally:
            progress.close()
        self.stdout.write(
            f"Products: {existing + created} (added {created}, with {variants} variants)."
        )

    def _users(self, options) -> None:
        user_model = get_user_model()
        accounts = [
            ("staff", options["staff_email"], options["staff_password"], True),
            ("customer", options["customer_email"], options["customer_password"], False),
        ]
        for role, email, password, is_staff in accounts:
            if user_model.objects.filter(email_normalized=email_key(email)).exists():
                self.stdout.write(f"Demo {role} {email} exists; its password is unchanged.")
                continue
            generated = not password
            password = password or secrets.token_urlsafe(12)
            user_model.objects.create_user(
                email=email,
                password=password,
                is_staff=is_staff,
                first_name="Demo",
                last_name=role.capitalize(),
            )
            shown = password if generated else "(the one you gave)"
            self.stdout.write(self.style.WARNING(f"Demo {role}: {email}  password: {shown}"))
        wanted = options["customers"]
        existing = user_model.objects.filter(email__endswith="@customers.nexus.example").count()
        run = secrets.token_hex(3)
        new = [
            user_model(
                email=f"shopper{n}-{run}@customers.nexus.example",
                # bulk_create skips User.save(), which derives this column.
                email_normalized=f"shopper{n}-{run}@customers.nexus.example",
                username=f"shopper{n}-{run}",
                first_name=self.random.choice(["Ada", "Linus", "Grace", "Alan", "Margaret"]),
                last_name=self.random.choice(["Lovelace", "Hopper", "Turing", "Hamilton"]),
                password=make_password(None),  # unusable: these accounts cannot log in
            )
            for n in range(max(0, wanted - existing))
        ]
        user_model.objects.bulk_create(new)
        self.stdout.write(f"Customers without login: {existing + len(new)}.")
