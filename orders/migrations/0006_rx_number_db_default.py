"""Rx numbers default to the next of their sequence (0002) in the database: the insert gives
the number, with no separate round trip for it."""

import django.db.models.functions.comparison
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0005_fill_replacement"),
    ]

    operations = [
        migrations.AlterField(
            model_name="prescription",
            name="rx_number",
            field=models.CharField(
                db_default=django.db.models.functions.comparison.Cast(
                    models.Func(
                        models.Value("orders_rx_number_seq"),
                        function="nextval",
                        output_field=models.BigIntegerField(),
                    ),
                    models.CharField(max_length=12),
                ),
                max_length=12,
                unique=True,
                verbose_name="Rx number",
            ),
        ),
    ]
