"""The OpenAPI document: every response documented (errors with the shared ``ErrorBody``), and
every ``$ref`` resolvable.

The ingest route reads its body itself (to stop at ``ingest_max_bytes`` before parsing), so FastAPI
does not see ``IngestBody``; its schema, with the models it refers to, is added to the components
here and the request body refers to it there.
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


def responses(ok: type[BaseModel] | None, *errors: int, **ok_extra: Any) -> dict[int | str, dict[str, Any]]:
    """A route's ``responses``: 200 with ``ok`` (when given), and each error status (429 and 500
    always: every route is rate limited) with the shared error body."""
    documented: dict[int | str, dict[str, Any]] = {}
    if ok is not None:
        documented[200] = {"model": ok, **ok_extra}
    for status in sorted({*errors, 429, 500}):
        assert status in STATUS_CODES, status
        documented[status] = {"model": ErrorBody, "description": _DESCRIPTIONS.get(status, "Error")}
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
            for name, schema in _with_component_refs(IngestBody).items():
                schemas.setdefault(name, schema)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
