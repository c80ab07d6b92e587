"""GET /api/v1/openapi.json and GET /api/docs: the description, and a page people can read.

The page is rendered on the server from the same generated description, with its own small
stylesheet: no script, no CDN, nothing fetched from elsewhere."""

from __future__ import annotations

import json
import re
from typing import Any

from flask import Blueprint, Response, render_template
from markupsafe import Markup, escape

from webapp.api.spec import api_spec

bp = Blueprint("api_docs", __name__, template_folder="templates")

METHODS = ("get", "post", "patch", "put", "delete")


@bp.get("/api/v1/openapi.json")
def openapi_json() -> Response:
    return Response(json.dumps(api_spec.spec, indent=1), mimetype="application/json")


@bp.get("/api/docs")
def reference_page() -> str:
    spec = api_spec.spec
    operations = [
        {"method": method.upper(), "path": path, **operation,
         "responses": dict(sorted(operation["responses"].items())),
         "body": _body_schema(spec, operation)}
        for path, item in spec["paths"].items()
        for method, operation in item.items() if method in METHODS
    ]
    return render_template("api_reference.html", spec=spec, operations=operations,
                           schemas=spec["components"]["schemas"], describe=_describe,
                           prose=_prose)


def _prose(text: str | None) -> Markup:
    """Description text with its `code` spans set as code (everything else escaped)."""
    escaped = str(escape(text or ""))
    return Markup(re.sub(r"`([^`]+)`", r"<code>\1</code>", escaped))


def _body_schema(spec: dict[str, Any], operation: dict[str, Any]) -> str | None:
    content = operation.get("requestBody", {}).get("content", {})
    ref = content.get("application/json", {}).get("schema", {}).get("$ref")
    return ref.rsplit("/", 1)[-1] if ref else None


def _describe(schema: dict[str, Any]) -> str:
    """A schema in a few words: 'string (date-time) or null', 'array of Lead', 'one of ...'."""
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    if "anyOf" in schema:
        return " or ".join(_describe(part) for part in schema["anyOf"])
    if "enum" in schema:
        return "one of " + ", ".join(json.dumps(v) for v in schema["enum"])
    if "const" in schema:
        return json.dumps(schema["const"])
    kind = schema.get("type", "any")
    if kind == "array":
        return "array of " + _describe(schema.get("items", {}))
    if kind == "object" and "additionalProperties" in schema:
        extra = schema["additionalProperties"]
        return "map of " + (_describe(extra) if isinstance(extra, dict) else "any")
    if "format" in schema:
        return f"{kind} ({schema['format']})"
    return str(kind)
