"""``manage.py catalog_recount``: reconcile the catalogue's denormalised values (each
category's active product count, each product's price and active price spread) with a
fresh count (``services.catalog_recount``). Beat runs it daily as a safety net; the
services keep the values exact, so it normally corrects nothing and writes nothing."""

from django.core.management.base import BaseCommand

from catalog.services import catalog_recount


class Command(BaseCommand):
    help = "Recount category product counts and product price ranges; fix any that drifted."

    def handle(self, *args, **options):
        categories, products = catalog_recount()
        self.stdout.write(
            f"Corrected {categories} category count(s) and {products} product price range(s)."
        )
