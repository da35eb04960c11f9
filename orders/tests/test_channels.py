"""One list of the channels a prescription arrives by, shared by the parsers (which stay
free of models) and the Prescription model."""

import subprocess
import sys

from django.conf import settings

import orders.intake
import orders.models


def test_the_parsers_and_the_model_share_one_channel_enum():
    assert orders.models.Channel is orders.intake.Channel
    field = orders.models.Prescription._meta.get_field("channel")
    assert field.choices == orders.intake.Channel.choices
    assert orders.intake.Channel.choices == [
        ("ncpdp", "e-Prescription (NCPDP SCRIPT)"),
        ("fhir", "e-Prescription (FHIR)"),
        ("phone", "Phone"),
        ("fax", "Fax"),
        ("written", "Written (mailed in)"),
    ]


def test_the_parsers_import_without_django_settings_or_models():
    code = (
        "import sys, orders.intake; "
        "from django.apps import apps; "
        "assert not apps.ready; "
        "assert 'orders.models' not in sys.modules; "
        "print(orders.intake.Channel.FHIR.label)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=settings.BASE_DIR,
        env={"PATH": "/usr/bin:/bin"},
        check=False,
    )

    assert (done.returncode, done.stdout, done.stderr) == (0, "e-Prescription (FHIR)\n", "")
