"""The web tests talk to the app over plain http (Starlette's test client), so they
opt out of Secure cookies explicitly, as a developer on http://127.0.0.1 would; the
tests of the Secure default clear this themselves."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(scope="package", autouse=True)
def _plain_http_cookies() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DIALER_WEB_SECURE_COOKIES", "false")
        yield
