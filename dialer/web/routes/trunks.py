"""The admins' trunk list on the web (campaigns/trunks.py): a page and the JSON API.

Only admins change trunks; marketing sees names, hosts and caller IDs to choose from.
No page or answer ever carries a trunk's password, and every change is in the audit log
(without the password).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from campaigns import trunks
from campaigns.db import Database
from campaigns.models import Role
from campaigns.users import CurrentUser
from dialer.web.auth import allow
from dialer.web.deps import Db, Render, User
from dialer.web.uploads import audit

router = APIRouter()
SAVED = {"saved": "Trunk saved.", "removed": "Trunk removed."}  # the only texts ?done= shows


class TrunkIn(BaseModel):
    host: str = Field(max_length=300, examples=["sip.carrier.example:5060"])
    caller_ids: list[str] = Field(default_factory=list, max_length=trunks.MAX_CALLER_IDS,
                                  examples=[["+8215880000"]])
    transport: str = Field(default="udp", max_length=8)
    registrar: str | None = Field(default=None, max_length=300)
    outbound_proxy: str | None = Field(default=None, max_length=300)
    username: str | None = Field(default=None, max_length=200)
    realm: str | None = Field(default=None, max_length=300)
    # Write-only: sent to set or change it, never returned.
    password: str | None = Field(default=None, max_length=200)
    clear_password: bool = False


def save(db: Database, user: CurrentUser, name: str, fields: dict[str, Any],
         password: str | None, clear: bool) -> None:
    trunks.save_trunk(db, name, fields, by=user.username, password=password,
                      clear_password=clear)
    audit(db, user, "trunk_saved", {"trunk": name, **fields,
                                    "password_changed": bool(password) or clear})


@router.get("/admin/trunks", response_class=HTMLResponse, dependencies=[allow(Role.ADMIN)])
def trunks_page(db: Db, page: Render, done: str = "") -> HTMLResponse:
    """The trunks page: every trunk with its caller IDs, and a form to add one."""
    return page("trunks.html", trunks=trunks.list_trunks(db), done=SAVED.get(done, ""))


@router.post("/admin/trunks", response_class=HTMLResponse, dependencies=[allow(Role.ADMIN)])
def trunks_save(db: Db, user: User, page: Render, name: Annotated[str, Form(max_length=100)],
                host: Annotated[str, Form(max_length=300)],
                caller_ids: Annotated[str, Form(max_length=4000)] = "",
                transport: Annotated[str, Form(max_length=8)] = "udp",
                registrar: Annotated[str, Form(max_length=300)] = "",
                outbound_proxy: Annotated[str, Form(max_length=300)] = "",
                username: Annotated[str, Form(max_length=200)] = "",
                realm: Annotated[str, Form(max_length=300)] = "",
                password: Annotated[str, Form(max_length=200)] = "") -> Response:
    """Add or change a trunk from the page's form (an empty password keeps it)."""
    fields = {"host": host, "caller_ids": caller_ids, "transport": transport,
              "registrar": registrar, "outbound_proxy": outbound_proxy,
              "username": username, "realm": realm}
    try:
        save(db, user, name, fields, password or None, False)
    except trunks.TrunkError as exc:
        return page("trunks.html", status=400, trunks=trunks.list_trunks(db),
                    error=exc, form={"name": name, **fields})
    return RedirectResponse("/admin/trunks?done=saved", status_code=303)


@router.post("/admin/trunks/{name}/delete", response_class=HTMLResponse,
             dependencies=[allow(Role.ADMIN)])
def trunks_delete(db: Db, user: User, page: Render, name: str) -> Response:
    """Remove a trunk from the page (refused while a campaign uses it)."""
    try:
        trunks.delete_trunk(db, name)
    except trunks.TrunkError as exc:
        return page("trunks.html", status=400, trunks=trunks.list_trunks(db),
                    error=exc)
    audit(db, user, "trunk_removed", {"trunk": name})
    return RedirectResponse("/admin/trunks?done=removed", status_code=303)


@router.get("/api/trunks", dependencies=[allow(Role.ADMIN, Role.MARKETING)])
def api_trunks(db: Db) -> list[dict[str, Any]]:
    """The trunks a campaign may name, with the caller IDs each allows (no passwords)."""
    return trunks.list_trunks(db)


@router.put("/api/trunks/{name}", dependencies=[allow(Role.ADMIN)])
def api_trunk_save(db: Db, user: User, name: str, body: TrunkIn) -> dict[str, Any]:
    """Create or replace a trunk; `password` only when it changes."""
    fields = body.model_dump(exclude={"password", "clear_password"})
    try:
        save(db, user, name, fields, body.password, body.clear_password)
    except trunks.TrunkError as exc:
        raise HTTPException(422, str(exc)) from None
    return next(t for t in trunks.list_trunks(db) if t["name"] == name.strip())


@router.delete("/api/trunks/{name}", dependencies=[allow(Role.ADMIN)])
def api_trunk_delete(db: Db, user: User, name: str) -> dict[str, Any]:
    """Remove a trunk (404: no such trunk; 409: a campaign still uses it)."""
    try:
        trunks.delete_trunk(db, name)
    except trunks.TrunkError as exc:
        raise HTTPException(404 if str(exc).startswith("no trunk") else 409,
                            str(exc)) from None
    audit(db, user, "trunk_removed", {"trunk": name})
    return {"name": name, "removed": True}
