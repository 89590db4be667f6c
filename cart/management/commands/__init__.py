"""Management commands of the cart app."""
