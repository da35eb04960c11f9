"""Business writes of the shipping app: shipments and packing (``shipments``), the
packaging rules (``rules``), and the carrier label and packing slip PDFs
(``documents``)."""
