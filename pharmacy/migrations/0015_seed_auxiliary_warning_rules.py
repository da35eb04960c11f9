"""The auxiliary warnings the Rx label printed from code until now (storage, route, dosage
form), and a few class and ingredient warnings every pharmacy prints, as rules that
pharmacists keep from now on. Class names are the FDA Established Pharmacologic Class
names the NDC Directory import stores; a class or ingredient the catalogue does not
hold yet matches once it arrives."""

from django.db import migrations

DROWSY = "May cause drowsiness. Alcohol may intensify this effect."
EXTERNAL = "For external use only."
WHOLE = "Swallow whole. Do not crush or chew."

RULES = [
    (10, {"storage": "refrigerated"}, "Keep in a refrigerator, 36-46 °F (2-8 °C). Do not freeze."),
    (20, {"storage": "frozen"}, "Keep frozen."),
    (30, {"route": "TOPICAL"}, EXTERNAL),
    (31, {"route": "TRANSDERMAL"}, EXTERNAL),
    (32, {"route": "CUTANEOUS"}, EXTERNAL),
    (33, {"route": "OPHTHALMIC"}, "For the eye only."),
    (34, {"route": "OTIC"}, "For the ear only."),
    (40, {"dosage_form": "EXTENDED RELEASE"}, WHOLE),
    (41, {"dosage_form": "DELAYED RELEASE"}, WHOLE),
    (50, {"dosage_form": "SUSPENSION"}, "Shake well before use."),
    (60, {"pharmacologic_class_name": "Benzodiazepine"}, DROWSY),
    (61, {"pharmacologic_class_name": "Opioid Agonist"}, DROWSY),
    (62, {"pharmacologic_class_name": "Histamine-1 Receptor Antagonist"}, DROWSY),
    (70, {"pharmacologic_class_name": "Nonsteroidal Anti-inflammatory Drug"}, "Take with food."),
    (
        71,
        {"pharmacologic_class_name": "Tetracycline-class Drug"},
        "Do not take with dairy products, antacids or iron.",
    ),
    (
        72,
        {"ingredient_name": "Metronidazole", "ingredient_key": "METRONIDAZOLE"},
        "Do not drink alcohol while taking this and for 3 days after.",
    ),
]


def seed(apps, schema_editor):
    Rule = apps.get_model("pharmacy", "AuxiliaryWarningRule")
    for position, criteria, warning in RULES:
        Rule.objects.get_or_create(position=position, warning=warning, **criteria)


def unseed(apps, schema_editor):
    Rule = apps.get_model("pharmacy", "AuxiliaryWarningRule")
    for position, criteria, warning in RULES:
        Rule.objects.filter(position=position, warning=warning, **criteria).delete()


class Migration(migrations.Migration):
    dependencies = [("pharmacy", "0014_auxiliary_warning_rule")]

    operations = [migrations.RunPython(seed, unseed)]
