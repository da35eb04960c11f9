"""Output serializers of the pharmacy API."""

from rest_framework import serializers

from pharmacy.models import Allergy, Patient, PatientAddress


class AllergySerializer(serializers.ModelSerializer):
    ingredient = serializers.CharField(source="ingredient.name", allow_null=True, default=None)
    pharmacologic_class = serializers.CharField(
        source="pharmacologic_class.name", allow_null=True, default=None
    )

    class Meta:
        model = Allergy
        fields = [
            "id",
            "allergen",
            "ingredient",
            "pharmacologic_class",
            "reaction",
            "severity",
            "recorded_at",
        ]


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
            "created_at",
            "updated_at",
        ]
