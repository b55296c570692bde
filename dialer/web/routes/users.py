"""The admins' user page and API: create users, change their role, phone and skills,
reset a password, deactivate; every change is in the audit log."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Form, HTTPException
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from campaigns.db import Database
from campaigns.models import Role
from campaigns.users import CurrentUser, UserError, create_user, list_users, update_user
from dialer.web.auth import allow
from dialer.web.deps import Db, Render, User
from dialer.web.uploads import audit

router = APIRouter()
# The only sentences ?done= puts on the users page: a link cannot make it say anything.
USERS_DONE = {"created": "User created.", "saved": "Changes saved."}
# A new user's role is always chosen: a default would make admins by a slip of the form.
NO_ROLE = ("choose a role for the new user: " + ", ".join(r.value for r in Role)
           + " (nothing was created)")


def _role_required(schema: dict[str, Any]) -> None:
    # `role` is None in the model only so that a missing one is answered with NO_ROLE,
    # not a bare "Field required"; to readers of the API it is required.
    role = schema["properties"]["role"]
    role.pop("default", None)
    role.update(next(s for s in role.pop("anyOf", [role]) if s.get("type") != "null"))
    schema["required"] = [*schema.get("required", []), "role"]


class UserIn(BaseModel):
    model_config = ConfigDict(json_schema_extra=_role_required)

    username: str = Field(examples=["mina"])
    password: str = Field(min_length=1)
    role: Role | None = Field(default=None, examples=["agent"])
    sip_uri: str | None = Field(default=None, examples=["sip:agent1@pbx.example.com"])
    skills: str | None = Field(default=None, examples=["billing,korean"])


class UserPatch(BaseModel):
    role: Role | None = None
    active: bool | None = None
    password: str | None = None
    sip_uri: str | None = None
    skills: str | None = None


def created(db: Database, acting: CurrentUser, user_id: int) -> None:
    new = next(u for u in list_users(db) if u["id"] == user_id)
    audit(db, acting, "user_created", {"user": new["username"], "user_id": user_id,
                                       "role": new["role"], "sip_uri": new["sip_uri"],
                                       "skills": new["skills"]})


def changed(db: Database, acting: CurrentUser, user_id: int, changes: dict[str, Any]) -> None:
    """One audit entry per save that changed something (a password only as
    "reset")."""
    if changes:
        name = next((u["username"] for u in list_users(db) if u["id"] == user_id), None)
        audit(db, acting, "user_changed", {"user": name, "user_id": user_id,
                                           "changes": changes})


@router.get("/admin/users", response_class=HTMLResponse, dependencies=[allow(Role.ADMIN)])
def users_page(db: Db, page: Render, done: str = "") -> HTMLResponse:
    """The users page: every user, a form to change each and one to add a user."""
    return page("users.html", users=list_users(db), roles=list(Role),
                done=USERS_DONE.get(done, ""))


@router.post("/admin/users", response_class=HTMLResponse, dependencies=[allow(Role.ADMIN)])
def users_create(db: Db, acting: User, page: Render, username: Annotated[str, Form()],
                 password: Annotated[str, Form()], role: Annotated[str, Form()] = "",
                 sip_uri: Annotated[str, Form()] = "", skills: Annotated[str, Form()] = ""
                 ) -> Response:
    """Add a user from the page's form; a missing role is refused, never guessed."""
    try:
        if not role.strip():
            raise UserError(NO_ROLE)
        created(db, acting, create_user(db, username, password, role, sip_uri or None,
                                        skills or None))
    except UserError as exc:
        return page("users.html", status=400, users=list_users(db), roles=list(Role),
                    error=exc, form={"username": username, "role": role,
                                          "sip_uri": sip_uri})
    return RedirectResponse("/admin/users?done=created", status_code=303)


@router.post("/admin/users/{user_id}", response_class=HTMLResponse,
             dependencies=[allow(Role.ADMIN)])
def users_update(db: Db, acting: User, page: Render, user_id: int,
                 role: Annotated[str, Form()] = "", active: Annotated[str, Form()] = "",
                 password: Annotated[str, Form()] = "",
                 sip_uri: Annotated[str | None, Form()] = None,
                 skills: Annotated[str | None, Form()] = None) -> Response:
    """Save one user's row of the page: role, active, a new password, phone, skills."""
    try:
        changed(db, acting, user_id, update_user(
            db, user_id, role=role or None, active={"1": True, "0": False}.get(active),
            password=password or None, acting_user_id=acting.id, sip_uri=sip_uri,
            skills=skills))
    except UserError as exc:
        return page("users.html", status=400, users=list_users(db), roles=list(Role),
                    error=exc)
    return RedirectResponse("/admin/users?done=saved", status_code=303)


@router.get("/api/users", dependencies=[allow(Role.ADMIN)])
def api_users(db: Db) -> list[dict[str, Any]]:
    """Every user with role, state, phone, skills and last login (no passwords)."""
    return list_users(db)


@router.post("/api/users", status_code=201, dependencies=[allow(Role.ADMIN)])
def api_users_create(db: Db, acting: User, body: UserIn) -> dict[str, Any]:
    """Create a user; `role` is required (422 without one)."""
    if body.role is None:
        raise HTTPException(422, NO_ROLE)
    try:
        user_id = create_user(db, body.username, body.password, body.role, body.sip_uri,
                              body.skills)
    except UserError as exc:
        raise HTTPException(400, str(exc)) from None
    created(db, acting, user_id)
    return {"id": user_id, "username": body.username, "role": body.role}


@router.patch("/api/users/{user_id}", dependencies=[allow(Role.ADMIN)])
def api_users_update(db: Db, acting: User, user_id: int,
                     body: Annotated[UserPatch, Body()]) -> dict[str, Any]:
    """Change a user: only the fields sent change (404: no such user)."""
    try:
        changed(db, acting, user_id, update_user(
            db, user_id, role=body.role, active=body.active, password=body.password,
            acting_user_id=acting.id, sip_uri=body.sip_uri, skills=body.skills))
    except UserError as exc:
        status = 404 if str(exc).startswith("no user") else 400
        raise HTTPException(status, str(exc)) from None
    return {"id": user_id, "saved": True}
