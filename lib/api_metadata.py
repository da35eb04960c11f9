"""The API's answer to OPTIONS (settings ``DEFAULT_METADATA_CLASS``)."""

from rest_framework import metadata


def _has_serializer(view) -> bool:
    # Imported here: rest_framework.views reads this module while generics is loading.
    from rest_framework import generics  # noqa: PLC0415

    return (
        getattr(view, "serializer_class", None) is not None
        or type(view).get_serializer_class is not generics.GenericAPIView.get_serializer_class
    )


class SimpleMetadata(metadata.SimpleMetadata):
    """DRF's metadata (name, description, media types, the fields POST and PUT take).
    A step that takes no body (claim, unclaim, buying a label again) has no serializer:
    DRF would fail asking for one; it lists no fields instead."""

    def determine_actions(self, request, view):
        if not _has_serializer(view):
            return {}
        return super().determine_actions(request, view)
