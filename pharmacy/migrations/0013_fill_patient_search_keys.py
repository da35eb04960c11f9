"""Fill the search keys of the patients and addresses stored before they existed
(migration 0012), with the same functions the patient services use from now on."""

from django.db import migrations

from pharmacy.patient_keys import address_key, search_values_of

BATCH = 2000


def fill_keys(apps, schema_editor):
    Patient = apps.get_model("pharmacy", "Patient")
    PatientAddress = apps.get_model("pharmacy", "PatientAddress")
    fields = ["search_last_name", "search_first_name", "search_name_words", "search_phone"]
    batch = []
    for patient in Patient.objects.order_by("pk").iterator(chunk_size=BATCH):
        for name, value in search_values_of(patient).items():
            setattr(patient, name, value)
        batch.append(patient)
        if len(batch) >= BATCH:
            Patient.objects.bulk_update(batch, fields)
            batch = []
    Patient.objects.bulk_update(batch, fields)
    batch = []
    for address in PatientAddress.objects.order_by("pk").iterator(chunk_size=BATCH):
        address.match_key = address_key(address.line1, address.postal_code)
        batch.append(address)
        if len(batch) >= BATCH:
            PatientAddress.objects.bulk_update(batch, ["match_key"])
            batch = []
    PatientAddress.objects.bulk_update(batch, ["match_key"])


class Migration(migrations.Migration):
    dependencies = [("pharmacy", "0012_patient_search_and_merge")]

    operations = [migrations.RunPython(fill_keys, migrations.RunPython.noop)]
