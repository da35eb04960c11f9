"""Inventory: the drug catalogue (products and packages by NDC and GTIN) and, later, stock."""
