"""Rx numbers come from a database sequence: unique and gap-tolerant under concurrent intake."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("orders", "0001_initial")]

    operations = [
        migrations.RunSQL(
            "CREATE SEQUENCE orders_rx_number_seq START WITH 1000001",
            "DROP SEQUENCE orders_rx_number_seq",
        )
    ]
