"""Page-number pagination for every list: ``page`` and ``page_size`` (default 20, max 100)."""

from rest_framework import pagination
from rest_framework.exceptions import ValidationError


class PageNumberPagination(pagination.PageNumberPagination):
    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100

    def get_page_size(self, request):
        """A ``page_size`` that is not a positive integer is a 400 (DRF ignores it silently);
        values above the maximum are capped."""
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None or raw == "":
            return self.page_size
        try:
            size = int(raw)
        except ValueError:
            size = 0
        if size < 1:
            raise ValidationError(
                {"page_size": [f"A positive integer up to {self.max_page_size} is required."]},
                code="invalid",
            )
        return min(size, self.max_page_size)

    def get_paginated_response_schema(self, schema):
        """Every page has all four keys (``next``/``previous`` are null at the ends), so
        all four are required; the example URLs are this API's own."""
        result = super().get_paginated_response_schema(schema)
        result["required"] = ["count", "next", "previous", "results"]
        result["properties"]["count"]["minimum"] = 0
        for key, page in (("next", 3), ("previous", 1)):
            result["properties"][key]["example"] = (
                f"https://shop.example.com/api/v1/products/?page={page}"
            )
        return result

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_query_param:
                parameter["schema"]["minimum"] = 1
            if parameter["name"] == self.page_size_query_param:
                # No "maximum": larger values are accepted and capped, and the schema must
                # not call a request invalid that the API answers with 200.
                parameter["schema"]["minimum"] = 1
                parameter["description"] = (
                    f"Number of results per page (default {self.page_size}); values above "
                    f"{self.max_page_size} are capped at {self.max_page_size}."
                )
        return parameters
