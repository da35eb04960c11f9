"""What each role may do, as Django permissions on the role's Group.

``sync_role_groups`` (pharmacy.services) makes the groups match this table exactly, after
every ``migrate`` (see ``pharmacy/apps.py``): to change what a role may do, edit the table
and migrate. Permissions given to a group by hand in the admin are removed then.
"""

from pharmacy.models import Role

# "app_label.codename" of every permission a role carries.
ROLE_PERMISSIONS: dict[str, list[str]] = {
    Role.TECHNICIAN: [
        "pharmacy.work_technician_queues",
        "pharmacy.view_patient",
        "pharmacy.add_patient",
        "pharmacy.change_patient",
        "pharmacy.add_allergy",
        "pharmacy.view_prescriber",
        "inventory.view_product",
        # Stock (issue 4): receive, adjust, count.
        "inventory.view_stocklot",
        "inventory.add_stockmovement",
        "inventory.add_receipt",
        "inventory.view_receipt",
        "inventory.view_purchaseorder",
        "inventory.view_cyclecount",
        "inventory.add_cyclecount",
        # Suppliers (issue 11): receiving names one.
        "inventory.view_supplier",
        # Shipping (issue 6): pack, label, hand over, report delivery exceptions.
        "shipping.view_shipment",
        "shipping.change_shipment",
        "shipping.view_deliveryexception",
        "shipping.add_deliveryexception",
        "shipping.view_labelbatch",
        "shipping.add_labelbatch",
        "shipping.view_manifest",
        "shipping.add_manifest",
    ],
    Role.PHARMACIST: [
        "pharmacy.work_technician_queues",
        "pharmacy.verify_prescriptions",
        "pharmacy.view_patient",
        "pharmacy.add_patient",
        "pharmacy.change_patient",
        "pharmacy.add_allergy",
        # One record per patient (issue 13): pharmacists and managers merge duplicates.
        "pharmacy.merge_patient",
        "pharmacy.view_prescriber",
        "inventory.view_product",
        "inventory.change_product",
        # Stock (issue 4): receive, adjust, count, approve counts, controlled inventories.
        "inventory.view_stocklot",
        "inventory.add_stockmovement",
        "inventory.add_receipt",
        "inventory.view_receipt",
        "inventory.view_purchaseorder",
        "inventory.view_cyclecount",
        "inventory.add_cyclecount",
        "inventory.change_cyclecount",
        "inventory.change_receivingdiscrepancy",
        "inventory.view_controlled_inventory",
        # Reorder alerts, quarantine and recall (issue 4).
        "inventory.change_stocklot",
        "inventory.view_reorderalert",
        # Suppliers (issue 11): receiving names one.
        "inventory.view_supplier",
        # Shipping (issue 6): as a technician, and resolve exceptions with reships.
        "shipping.view_shipment",
        "shipping.change_shipment",
        "shipping.view_deliveryexception",
        "shipping.add_deliveryexception",
        "shipping.change_deliveryexception",
        "shipping.view_labelbatch",
        "shipping.add_labelbatch",
        "shipping.view_manifest",
        "shipping.add_manifest",
    ],
    Role.MANAGER: [
        "pharmacy.view_dashboard",
        # How long work may wait in each queue before its tab shows it late (issue 13).
        "orders.change_queuewaitlimit",
        "pharmacy.manage_staff",
        "pharmacy.view_auditevent",
        # One record per patient (issue 13): managers merge duplicate records, on the merge
        # page only (it shows the two records compared); the patient pages stay closed.
        "pharmacy.merge_patient",
        "pharmacy.view_prescriber",
        "inventory.view_product",
        "inventory.change_product",
        # Stock (issue 4): suppliers' orders, counts to approve, controlled inventories.
        "inventory.view_stocklot",
        "inventory.view_receipt",
        "inventory.view_purchaseorder",
        "inventory.add_purchaseorder",
        "inventory.change_purchaseorder",
        "inventory.view_cyclecount",
        "inventory.add_cyclecount",
        "inventory.change_cyclecount",
        "inventory.change_receivingdiscrepancy",
        "inventory.view_controlled_inventory",
        # Reorder rules and alerts, quarantine and recall (issue 4).
        "inventory.view_reorderrule",
        "inventory.add_reorderrule",
        "inventory.change_reorderrule",
        "inventory.view_reorderalert",
        "inventory.change_reorderalert",
        "inventory.change_stocklot",
        # Suppliers (issue 11): managers keep the list; never deleted, only deactivated.
        "inventory.view_supplier",
        "inventory.add_supplier",
        "inventory.change_supplier",
        # Shipping (issue 6): watch shipments, resolve exceptions, manifests, and keep the
        # packaging rules, carrier services and holiday calendar.
        "shipping.view_shipment",
        "shipping.view_deliveryexception",
        "shipping.add_deliveryexception",
        "shipping.change_deliveryexception",
        "shipping.view_labelbatch",
        "shipping.view_manifest",
        "shipping.add_manifest",
        "shipping.view_shippingrules",
        "shipping.change_shippingrules",
        "shipping.view_carrierservice",
        "shipping.add_carrierservice",
        "shipping.change_carrierservice",
        "shipping.view_carrierholiday",
        "shipping.add_carrierholiday",
        "shipping.change_carrierholiday",
        "shipping.delete_carrierholiday",
        # Side effects (issue 12): see what waits or failed, and send a failed one again.
        "outbox.view_outboxmessage",
        "outbox.retry_outboxmessage",
    ],
}

# Where each role lands after logging in.
ROLE_HOME_URL_NAMES = {
    Role.TECHNICIAN: "technician_home",
    Role.PHARMACIST: "pharmacist_home",
    Role.MANAGER: "manager_home",
}
