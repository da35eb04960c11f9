"""Browser pages of the shipping app, one module per area:

``lists``: the shipments per status, refreshing themselves.
``blocked``: the orders that cannot ship, and why.
``detail``: a shipment's record, its documents and its delivery exceptions.
``hand_over``: handing labelled packages to the carrier.
``packing``: the packing station, built for a scanner.
``batches``: batch printing of carrier labels with a progress bar.
``carrier_manifests``: the carriers' end-of-day manifests.
``rules``: the packaging rules a manager keeps.
``_common``: the permissions, and the lookups and responses several pages share.

Pages parse, call ``shipping.services`` and render; every write is a service call whose
``ShippingError`` is shown in its own words. Every page that shows a patient's data writes
one audit row; a list's refresh (the htmx poll) writes one only when it shows a patient
the last row did not name. Pages only read: an order's shipment is made when its last
fill passes PV2 (``shipping.services.shipments.create_shipment_for_order``).

The names below are the pages ``shipping.urls`` routes to; the page sizes, polling
intervals and the count cap stay in their modules (patch them there).
"""

from shipping.views._common import label_url
from shipping.views.batches import label_batch, label_batch_pdf, label_batch_poll, label_batches
from shipping.views.blocked import cannot_ship
from shipping.views.carrier_manifests import manifest_csv, manifest_pdf, manifests
from shipping.views.detail import (
    exception_resolve,
    shipment_detail,
    shipment_document,
    shipment_packing_slip,
    shipment_report_exception,
)
from shipping.views.hand_over import hand_over_scan, shipment_hand_over
from shipping.views.lists import (
    SHIPMENT_LISTS,
    ShipmentList,
    shipment_list,
    shipment_list_rows,
    shipping_home,
)
from shipping.views.packing import packing_start, packing_station, shipment_label_status
from shipping.views.rules import (
    carrier_holiday_add,
    carrier_holiday_remove,
    carrier_service_edit,
    shipping_rules,
)

__all__ = [
    "SHIPMENT_LISTS",
    "ShipmentList",
    "cannot_ship",
    "carrier_holiday_add",
    "carrier_holiday_remove",
    "carrier_service_edit",
    "exception_resolve",
    "hand_over_scan",
    "label_batch",
    "label_batch_pdf",
    "label_batch_poll",
    "label_batches",
    "label_url",
    "manifest_csv",
    "manifest_pdf",
    "manifests",
    "packing_start",
    "packing_station",
    "shipment_detail",
    "shipment_document",
    "shipment_hand_over",
    "shipment_label_status",
    "shipment_list",
    "shipment_list_rows",
    "shipment_packing_slip",
    "shipment_report_exception",
    "shipping_home",
    "shipping_rules",
]
