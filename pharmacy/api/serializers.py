"""Serializers of the pharmacy API: output serializers, and separate input serializers for
what a caller may send (``...InputSerializer``)."""

from rest_framework import serializers

from pharmacy.models import Allergy, Patient, PatientAddress


class AllergySerializer(serializers.ModelSerializer):
    ingredient = serializers.CharField(source="ingredient.name", allow_null=True, default=None)
    pharmacologic_class = serializers.CharField(
        source="pharmacologic_class.name", allow_null=True, default=None
    )
    is_coded = serializers.SerializerMethodField(
        help_text="True when the allergen was matched to a catalogue ingredient or "
        "pharmacologic class, so the drug checks can match it; False when it is kept as "
        "written (latex, a food) and the checks warn that it could not be checked."
    )

    class Meta:
        model = Allergy
        fields = [
            "id",
            "allergen",
            "ingredient",
            "pharmacologic_class",
            "is_coded",
            "reaction",
            "severity",
            "recorded_at",
        ]

    def get_is_coded(self, allergy: Allergy) -> bool:
        return allergy.ingredient_id is not None or allergy.pharmacologic_class_id is not None


class PatientAddressSerializer(serializers.ModelSerializer):
    class Meta:
        model = PatientAddress
        fields = [
            "id",
            "label",
            "line1",
            "line2",
            "city",
            "state",
            "postal_code",
            "is_default_shipping",
        ]


class PatientSerializer(serializers.ModelSerializer):
    allergies = AllergySerializer(many=True, read_only=True)
    addresses = PatientAddressSerializer(many=True, read_only=True)

    class Meta:
        model = Patient
        fields = [
            "id",
            "first_name",
            "middle_name",
            "last_name",
            "date_of_birth",
            "sex",
            "phone",
            "email",
            "preferred_language",
            "no_known_allergies",
            "child_resistant_waiver_on",
            "allergies",
            "addresses",
            "merged_into",
            "merged_at",
            "created_at",
            "updated_at",
        ]
        extra_kwargs = {
            "merged_into": {
                "help_text": "Set when this record was merged into another patient's record "
                "(the survivor): use that one. A merged record is kept, never deleted."
            }
        }


class PossibleDuplicateSerializer(serializers.Serializer):
    """A patient on file who may be the one a request tried to create."""

    id = serializers.IntegerField(source="patient.pk")
    first_name = serializers.CharField(source="patient.first_name")
    last_name = serializers.CharField(source="patient.last_name")
    date_of_birth = serializers.DateField(source="patient.date_of_birth")
    reasons = serializers.ListField(child=serializers.CharField())


# --------------------------------------------------------------------------- input


class PatientAddressInputSerializer(serializers.Serializer):
    label = serializers.CharField(max_length=40, required=False, default="Home")
    line1 = serializers.CharField(max_length=200)
    line2 = serializers.CharField(max_length=200, required=False, default="", allow_blank=True)
    city = serializers.CharField(max_length=100)
    state = serializers.CharField(max_length=2, help_text="Two-letter state code")
    postal_code = serializers.CharField(max_length=10, help_text="ZIP or ZIP+4")
    is_default_shipping = serializers.BooleanField(required=False, default=False)


class PatientInputSerializer(serializers.Serializer):
    """A new patient; field rules that need the pharmacy's knowledge (dates, states, ZIP
    codes, one default address) are checked by ``pharmacy.services.create_patient``."""

    first_name = serializers.CharField(max_length=100)
    middle_name = serializers.CharField(
        max_length=100, required=False, default="", allow_blank=True
    )
    last_name = serializers.CharField(max_length=100)
    date_of_birth = serializers.DateField(input_formats=["iso-8601"])
    sex = serializers.ChoiceField(choices=Patient.Sex.choices, required=False, default="U")
    phone = serializers.CharField(max_length=30, required=False, default="", allow_blank=True)
    email = serializers.EmailField(required=False, default="", allow_blank=True)
    preferred_language = serializers.CharField(max_length=40, required=False, default="English")
    no_known_allergies = serializers.BooleanField(required=False, default=False)
    child_resistant_waiver_on = serializers.DateField(
        input_formats=["iso-8601"], required=False, allow_null=True, default=None
    )
    addresses = PatientAddressInputSerializer(many=True, required=False, default=list)
    confirm_not_duplicate = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Create the patient even though records on file may be the same person "
        "(the 409 answer lists them). Send it only after a person checked the candidates.",
    )


class AllergyInputSerializer(serializers.Serializer):
    allergen = serializers.CharField(
        max_length=255, help_text="An ingredient or a pharmacologic class, as the patient says it"
    )
    reaction = serializers.CharField(max_length=255, required=False, default="", allow_blank=True)
    severity = serializers.ChoiceField(
        choices=Allergy.Severity.choices, required=False, default=Allergy.Severity.UNKNOWN
    )
