"""Shipping: packing, carriers, labels and tracking."""
