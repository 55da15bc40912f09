"""The OpenAPI document: every response documented (errors with the shared ``ErrorBody``), and
every ``$ref`` resolvable.

The ingest route reads its body itself (to stop at ``ingest_max_bytes`` before parsing), so FastAPI
does not see ``IngestBody``; its schema, with the models it refers to, is added to the components
here and the request body refers to it there. ``ErrorBody`` is added the same way: errors name
their media type (JSON) themselves rather than take the route's.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from dallas_calls.api.errors import STATUS_CODES
from dallas_calls.api.schemas import ErrorBody, IngestBody

COMPONENTS = "#/components/schemas/"
INGEST_BODY_REF = {"$ref": f"{COMPONENTS}IngestBody"}
# Errors are JSON whatever the route's own media type (/geo/ serves application/geo+json).
ERROR_CONTENT = {"application/json": {"schema": {"$ref": f"{COMPONENTS}ErrorBody"}}}

_DESCRIPTIONS = {
    400: "Bad input (a parameter that is not what it should be)",
    401: "No or wrong bearer token",
    404: "Not found",
    413: "Body too large",
    422: "Invalid request (one entry per problem in `errors`)",
    429: "Rate limited, or too many open event streams; see `Retry-After`",
    500: "Internal error",
    503: "Not ready",
}


def responses(ok: type[BaseModel] | str, *errors: int) -> dict[int | str, dict[str, Any]]:
    """A route's ``responses``: 200 with the model ``ok`` (or, for a text body such as the event
    stream, its media type), and each error status (429 and 500 always: every route is rate
    limited) with the shared error body."""
    documented: dict[int | str, dict[str, Any]] = {
        200: {"content": {ok: {"schema": {"type": "string"}}}} if isinstance(ok, str) else {"model": ok}
    }
    for status in sorted({*errors, 429, 500}):
        assert status in STATUS_CODES, status
        documented[status] = {"description": _DESCRIPTIONS.get(status, "Error"), "content": ERROR_CONTENT}
    return documented


def _with_component_refs(model: type[BaseModel]) -> dict[str, dict[str, Any]]:
    """``model``'s JSON schema and the schemas it refers to, keyed by name, refs into components."""
    schema = model.model_json_schema(ref_template=COMPONENTS + "{model}")
    nested: dict[str, dict[str, Any]] = schema.pop("$defs", {})
    return {**nested, model.__name__: schema}


def install_openapi(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                summary=app.summary,
                description=app.description,
                routes=app.routes,
            )
            schemas = document.setdefault("components", {}).setdefault("schemas", {})
            for model in (IngestBody, ErrorBody):
                for name, schema in _with_component_refs(model).items():
                    schemas.setdefault(name, schema)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
