"""``manage.py seed_database``: demo data — a category tree, products with realistic
names, brands, prices, stock and placeholder images, a demo staff user, a demo customer
and a few more customers. Bulk inserts in batches, so 100,000 products take well under
two minutes on PostgreSQL. Also runnable as ``python scripts/seed_database.py``.

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
from contextlib import contextmanager
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

from catalog.cache import catalog_changed
from catalog.models import Category, Product, ProductImage

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


@contextmanager
def _keep_created_at():
    """Let bulk inserts carry their own ``created_at`` (spread over a year, so that
    "newest first" is meaningful): auto_now_add would stamp every row with now()."""
    field = Product._meta.get_field("created_at")
    saved = field.auto_now_add
    field.auto_now_add = False
    try:
        yield
    finally:
        field.auto_now_add = saved


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
                # can use index-only scans.
                vacuum = "" if connection.in_atomic_block else "VACUUM "  # not in a transaction
                cursor.execute(f"{vacuum}ANALYZE catalog_product")
        self.stdout.write(self.style.SUCCESS(f"Done in {time.monotonic() - started:.1f}s."))

    # ------------------------------------------------------------------ steps

    def _reset(self) -> None:
        try:
            with transaction.atomic():
                ProductImage.objects.all().delete()
                Product.objects.all().delete()
                while Category.objects.exists():  # leaves first: parent is PROTECT
                    Category.objects.filter(children__isnull=True).delete()
        except ProtectedError as exc:
            raise CommandError(
                "Some products appear in orders; the catalog cannot be reset."
            ) from exc
        self.stdout.write("Catalog deleted.")

    def _categories(self) -> list[tuple[Category, list[str], tuple[int, int]]]:
        leaves = []
        for top_name, children in TREE.items():
            top, _ = Category.objects.get_or_create(
                slug=slugify(top_name), defaults={"name": top_name}
            )
            for name, (nouns, prices) in children.items():
                child, _ = Category.objects.get_or_create(
                    slug=f"{top.slug}-{slugify(name)}", defaults={"name": name, "parent": top}
                )
                leaves.append((child, nouns, prices))
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

    def _product(self, number: int, run: str, leaves, now) -> Product:
        rnd = self.random
        category, nouns, (low, high) = rnd.choice(leaves)
        brand = rnd.choice(BRANDS)
        noun = rnd.choice(nouns)
        model = f"{rnd.choice('ABCDEFGHKMNRSTVXZ')}{rnd.randint(1, 990)}"
        name = f"{brand} {rnd.choice(ADJECTIVES)} {noun} {model}"
        if rnd.random() < 0.4:
            name += f", {rnd.choice(COLORS)}"
        sku = f"{run}-{number:07d}"
        # log-uniform prices ending in .99, like a real shop
        price = Decimal(int(low * (high / low) ** rnd.random())) + Decimal("0.99")
        description = (
            f"The {name} by {brand}: a {noun.lower()} {rnd.choice(FEATURES)}, "
            f"{rnd.choice(FEATURES)}. Part of our {category.name.lower()} range; "
            f"{rnd.choice(FEATURES)}."
        )
        return Product(
            name=name[:200],
            slug=f"{slugify(name)[:180]}-{sku.lower()}",
            sku=sku,
            brand=brand,
            description=description,
            price=price,
            stock_quantity=0 if rnd.random() < 0.08 else rnd.randint(1, 500),
            category=category,
            is_active=rnd.random() > 0.03,
            is_featured=rnd.random() < 0.03,
            created_at=now - timezone.timedelta(seconds=rnd.randint(0, 365 * 24 * 3600)),
        )

    def _products(self, wanted: int, leaves, images: list[str], batch_size: int) -> None:
        existing = Product.objects.count()
        missing = wanted - existing
        if missing <= 0:
            self.stdout.write(f"Products: {existing} already (wanted {wanted}); none added.")
            return
        run = f"NX{secrets.token_hex(2).upper()}"
        now = timezone.now()
        started = time.monotonic()
        created = 0
        with _keep_created_at():
            while created < missing:
                size = min(batch_size, missing - created)
                batch = [self._product(created + i, run, leaves, now) for i in range(size)]
                with transaction.atomic():
                    products = Product.objects.bulk_create(batch)
                    if connection.vendor != "postgresql":
                        # bulk_create returns primary keys only on PostgreSQL (and new
                        # SQLite); fetch them by SKU where it does not.
                        ids = dict(
                            Product.objects.filter(sku__in=[p.sku for p in batch]).values_list(
                                "sku", "id"
                            )
                        )
                        for product in products:
                            product.pk = product.pk or ids[product.sku]
                    ProductImage.objects.bulk_create(
                        ProductImage(
                            product_id=product.pk,
                            image=images[product.pk % len(images)],
                            alt_text=product.name[:200],
                            is_primary=True,
                        )
                        for product in products
                    )
                created += size
                elapsed = time.monotonic() - started
                self.stdout.write(
                    f"  products {created}/{missing}  ({elapsed:.1f}s, "
                    f"{created / max(elapsed, 1e-6):.0f}/s)"
                )
        self.stdout.write(f"Products: {existing + created} (added {created}).")

    def _users(self, options) -> None:
        user_model = get_user_model()
        accounts = [
            ("staff", options["staff_email"], options["staff_password"], True),
            ("customer", options["customer_email"], options["customer_password"], False),
        ]
        for role, email, password, is_staff in accounts:
            if user_model.objects.filter(email__iexact=email).exists():
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
                username=f"shopper{n}-{run}",
                first_name=self.random.choice(["Ada", "Linus", "Grace", "Alan", "Margaret"]),
                last_name=self.random.choice(["Lovelace", "Hopper", "Turing", "Hamilton"]),
                password=make_password(None),  # unusable: these accounts cannot log in
            )
            for n in range(max(0, wanted - existing))
        ]
        user_model.objects.bulk_create(new)
        self.stdout.write(f"Customers without login: {existing + len(new)}.")
