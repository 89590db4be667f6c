"""Catalog: categories (a tree), products, images and stock. Depends on `users` and `nexus`."""
