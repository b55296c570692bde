"""Request bodies against the web app's body guard (dialer/web/guard.py), driven at the
ASGI level so the test sees exactly how much of a body the app pulls: nobody without a
login gets a body read on a route that needs one, and a body over the cap is cut off
with 413 instead of being parsed."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from campaigns.settings import CampaignSettings
from campaigns.users import create_user, login
from dialer.web.app import create_app

MB = 1 << 20
PASSWORD = "a long password"


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    pulled: int = 0  # bytes of the request body the app asked for
    chunks: int = 0

    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


@dataclass
class Upload:
    """A request body sent in pieces, like a client streaming a big file."""

    prefix: bytes = b""
    size: int = 0
    chunk: int = MB
    suffix: bytes = b""
    sent: list[int] = field(default_factory=list)

    def pieces(self) -> Iterator[bytes]:
        yield self.prefix
        block = b"a" * self.chunk
        left = self.size
        while left > 0:
            yield block[:min(self.chunk, left)]
            left -= self.chunk
        yield self.suffix

    @property
    def length(self) -> int:
        return len(self.prefix) + self.size + len(self.suffix)


def call(app: Any, method: str, path: str, upload: Upload, headers: dict[str, str],
         *, send_length: bool = True) -> Answer:
    """One request through the app's ASGI interface, counting what it reads."""
    hdrs = {**headers}
    if send_length:
        hdrs["content-length"] = str(upload.length)
    else:
        hdrs["transfer-encoding"] = "chunked"
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": method, "scheme": "http", "path": path, "raw_path": path.encode(),
             "query_string": b"", "root_path": "", "client": ("10.9.8.7", 40000),
             "server": ("testserver", 80),
             "headers": [(k.lower().encode(), v.encode()) for k, v in hdrs.items()]}
    answer = Answer(0, {}, b"")

    async def run() -> None:
        pieces = upload.pieces()
        done = asyncio.Event()
        finished = False

        async def receive() -> dict[str, Any]:
            nonlocal finished
            if finished:
                await done.wait()
                return {"type": "http.disconnect"}
            piece = next(pieces, None)
            if piece is None:
                finished = True
                return {"type": "http.request", "body": b"", "more_body": False}
            answer.pulled += len(piece)
            answer.chunks += 1
            return {"type": "http.request", "body": piece, "more_body": True}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                answer.status = message["status"]
                answer.headers = {k.decode().lower(): v.decode()
                                  for k, v in message["headers"]}
            elif message["type"] == "http.response.body":
                answer.body += message.get("body", b"")
                if not message.get("more_body"):
                    done.set()

        await app(scope, receive, send)

    asyncio.run(run())
    return answer


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Any:
    data: Path = tmp_path_factory.mktemp("body")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DIALER_ACD_URL", "redis://127.0.0.1:9/0")
        mp.delenv("DIALER_WEB_MAX_BODY_MB", raising=False)
        application = create_app(CampaignSettings(data_dir=data))
    create_user(application.state.db, "mina", PASSWORD, "marketing")
    create_user(application.state.db, "root", PASSWORD, "admin")
    return application


def session(app: Any, name: str) -> dict[str, str]:
    token, user = login(app.state.db, name, PASSWORD)
    return {"cookie": f"dialer_session={token}", "x-csrf-token": user.csrf_token}


JSON = {"content-type": "application/json"}
FORM = {"content-type": "application/x-www-form-urlencoded"}
MULTIPART = {"content-type": "multipart/form-data; boundary=XX"}
FILE_HEAD = (b'--XX\r\nContent-Disposition: form-data; name="csv_file"; filename="a.csv"\r\n'
             b"Content-Type: text/csv\r\n\r\nphone\r\n")
FILE_TAIL = b"\r\n--XX--\r\n"

# An anonymous 150 MB body to routes that parse JSON, a form and a file upload.
ANONYMOUS = [
    ("/api/users", JSON, b'{"username":"', b'","password":"x","role":"admin"}', 401),
    ("/admin/users", FORM, b"username=", b"&password=x&role=admin", 303),
    ("/campaigns/new", MULTIPART, FILE_HEAD, FILE_TAIL, 303),
    ("/api/campaigns/1/imports", MULTIPART, FILE_HEAD, FILE_TAIL, 401),
]


@pytest.mark.parametrize("send_length", [True, False], ids=["content-length", "chunked"])
@pytest.mark.parametrize(("path", "headers", "head", "tail", "status"), ANONYMOUS,
                         ids=[a[0] for a in ANONYMOUS])
def test_an_anonymous_body_is_refused_before_it_is_read(
        app: Any, path: str, headers: dict[str, str], head: bytes, tail: bytes, status: int,
        send_length: bool) -> None:
    upload = Upload(head, 150 * MB, MB, tail)
    r = call(app, "POST", path, upload, headers, send_length=send_length)
    assert r.status == status, r.text()[:300]
    assert r.pulled == 0, f"the app read {r.pulled >> 20} MB of an anonymous body"
    if status == 401:
        assert "log in" in r.text()
    else:
        assert r.headers["location"] == f"/login?next={path}"


def test_a_forged_session_cookie_is_not_a_login(app: Any) -> None:
    upload = Upload(b'{"username":"', 20 * MB, MB, b'"}')
    r = call(app, "POST", "/api/users", upload, {**JSON, "cookie": "dialer_session=forged"})
    assert r.status == 401 and r.pulled == 0


def test_public_routes_still_read_their_small_bodies(app: Any) -> None:
    body = Upload(b'{"username":"mina","password":"' + PASSWORD.encode() + b'"}')
    r = call(app, "POST", "/api/login", body, JSON)
    assert r.status == 200, r.text()
    assert "csrf_token" in r.text()


def test_a_logged_in_body_over_the_cap_is_refused_unread(app: Any) -> None:
    upload = Upload(b'{"username":"', 3 * MB, MB, b'"}')
    r = call(app, "POST", "/api/users", upload, {**JSON, **session(app, "root")})
    assert r.status == 413, r.text()
    assert r.pulled == 0, "the Content-Length alone decides"
    detail = r.text()
    assert "1 MB" in detail and "DIALER_WEB_MAX_BODY_MB" in detail, detail


def test_a_streamed_body_is_cut_off_at_the_cap(app: Any) -> None:
    upload = Upload(b'{"username":"', 40 * MB, 64 * 1024, b'"}')
    r = call(app, "POST", "/api/users", upload, {**JSON, **session(app, "root")},
             send_length=False)
    assert r.status == 413, r.text()
    assert r.pulled <= MB + 64 * 1024 + 16, f"read {r.pulled} bytes past the 1 MB cap"
    assert "1 MB" in r.text()


def test_a_page_body_over_the_cap_gets_the_error_page(app: Any) -> None:
    upload = Upload(b"username=", 2 * MB, 64 * 1024, b"&role=admin")
    r = call(app, "POST", "/admin/users", upload, {**FORM, **session(app, "root")},
             send_length=False)
    assert r.status == 413 and "1 MB" in r.text() and "<html" in r.text().lower()


def test_uploads_have_their_own_larger_cap(app: Any) -> None:
    h = {**MULTIPART, **session(app, "mina")}
    # 3 MB passes the upload routes (the campaign does not exist: 404, after reading).
    r = call(app, "POST", "/api/campaigns/999/imports", Upload(FILE_HEAD, 3 * MB,
                                                               MB, FILE_TAIL), h)
    assert r.status == 404, r.text()[:300]
    assert r.pulled == 3 * MB + len(FILE_HEAD) + len(FILE_TAIL)
    cap = app.state.body_limits.upload
    big = Upload(FILE_HEAD, cap + MB, MB, FILE_TAIL)
    r = call(app, "POST", "/api/campaigns/999/imports", big, h)
    assert r.status == 413 and r.pulled == 0
    assert f"{cap >> 20} MB" in r.text()
    # The larger cap is only for uploads: another route keeps 1 MB.
    r = call(app, "PATCH", "/api/campaigns/999", Upload(b'{"name":"', 3 * MB, MB, b'"}'),
             {**JSON, **session(app, "mina")})
    assert r.status == 413 and r.pulled == 0
