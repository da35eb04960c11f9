"""Business writes of the inventory app, one module per area.

``catalogue``: the FDA NDC Directory import and the storage flag.
``products``: what pharmacists record about a product (what one unit looks like).
``stock``: dispensing and returns, each with its ledger row.
``receiving``: deliveries against purchase orders, and their discrepancies.
``suppliers``: adding and changing suppliers, and finding one by id or name.
``counts``: adjustments, cycle counts, controlled-substance inventories.
``reorder``: reorder rules and the exactly-once reorder alert.
``lots``: quarantine, recall, expiry and the recall trace.
"""
