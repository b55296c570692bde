"""The API's description: GET /api/openapi.json (with the roles of each operation as
`x-roles`) and, for people, the page /api/docs listing every operation."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse

from dialer.web.auth import ANY_ROLE, allow, path_operations, route_guard
from dialer.web.deps import Render

router = APIRouter()


@router.get("/api/openapi.json", dependencies=[allow(*ANY_ROLE)])
def api_schema(request: Request) -> dict[str, Any]:
    """This API's OpenAPI description, each operation with its roles (`x-roles`)."""
    return openapi(request.app)


@router.get("/api/docs", response_class=HTMLResponse, dependencies=[allow(*ANY_ROLE)])
def api_docs(request: Request, page: Render) -> HTMLResponse:
    """The page listing every operation of this API with the roles it allows."""
    return page("api_docs.html", endpoints=endpoint_list(request.app))


def openapi(app: FastAPI) -> dict[str, Any]:
    """The app's OpenAPI description, each operation with the roles it allows."""
    schema = get_openapi(title=app.title, version=app.version, routes=app.routes,
                         description="Log in with POST /api/login; send the returned "
                                     "csrf_token as X-CSRF-Token on changes.")
    for route in path_operations(app.routes):  # the roles of each, for readers and tools
        if (g := route_guard(route)) is not None:
            for method in route.methods or ():
                op = schema.get("paths", {}).get(route.path, {}).get(method.lower())
                if op is not None:
                    op["x-roles"] = ["public"] if g.public else sorted(g.roles)
    return schema


def endpoint_list(app: FastAPI) -> list[dict[str, Any]]:
    out = []
    for path, ops in openapi(app).get("paths", {}).items():
        for method, op in ops.items():
            out.append({"method": method.upper(), "path": path,
                        "summary": op.get("description") or op.get("summary", ""),
                        "roles": ", ".join(op.get("x-roles", []))})
    return out
