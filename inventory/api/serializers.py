"""Output serializers of the catalogue API (read-only)."""

from rest_framework import serializers

from inventory.models import Package, PharmacologicClass, Product, ProductIngredient


class ProductIngredientSerializer(serializers.ModelSerializer):
    name = serializers.CharField(source="ingredient.name")
    normalized_name = serializers.CharField(source="ingredient.normalized_name")

    class Meta:
        model = ProductIngredient
        fields = ["name", "normalized_name", "strength", "strength_unit"]


class PharmacologicClassSerializer(serializers.ModelSerializer):
    class Meta:
        model = PharmacologicClass
        fields = ["name", "kind"]


class PackageSerializer(serializers.ModelSerializer):
    gtin = serializers.CharField(read_only=True)
    quantity = serializers.DecimalField(
        max_digits=14, decimal_places=4, normalize_output=True, allow_null=True, read_only=True
    )

    class Meta:
        model = Package
        fields = [
            "package_ndc",
            "ndc11",
            "gtin",
            "description",
            "quantity",
            "unit",
            "marketing_start",
            "marketing_end",
            "is_sample",
        ]


class ProductSerializer(serializers.ModelSerializer):
    display_name = serializers.CharField(read_only=True)
    is_controlled = serializers.BooleanField(read_only=True)
    ingredients = ProductIngredientSerializer(source="strengths", many=True, read_only=True)
    pharmacologic_classes = PharmacologicClassSerializer(many=True, read_only=True)
    packages = PackageSerializer(many=True, read_only=True)

    class Meta:
        model = Product
        fields = [
            "product_ndc",
            "display_name",
            "proprietary_name",
            "proprietary_name_suffix",
            "nonproprietary_name",
            "product_type",
            "dosage_form",
            "route",
            "marketing_category",
            "application_number",
            "labeler_name",
            "marketing_start",
            "marketing_end",
            "dea_schedule",
            "is_controlled",
            "is_finished",
            "storage",
            "ingredients",
            "pharmacologic_classes",
            "packages",
        ]


class PackageProductSerializer(serializers.ModelSerializer):
    """The product of a package, in short, for package lookups by NDC or scan."""

    display_name = serializers.CharField(read_only=True)

    class Meta:
        model = Product
        fields = [
            "product_ndc",
            "display_name",
            "nonproprietary_name",
            "dosage_form",
            "dea_schedule",
            "storage",
        ]


class PackageWithProductSerializer(PackageSerializer):
    product = PackageProductSerializer(read_only=True)

    class Meta(PackageSerializer.Meta):
        fields = [*PackageSerializer.Meta.fields, "product"]


class ScanSerializer(serializers.Serializer):
    """What a scan said besides the package: lot, expiry and serial number."""

    kind = serializers.CharField()
    ndc = serializers.CharField()
    gtin = serializers.CharField()
    lot = serializers.CharField()
    expiry = serializers.DateField(allow_null=True)
    serial = serializers.CharField()
