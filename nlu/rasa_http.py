"""An external Rasa server as the NLU: `POST <url>/model/parse` with `{"text": ...}`, its
answer returned unchanged. Chosen per campaign (`nlu: {rasa_url: ...}` in script.yml).
Works against Rasa Open Source / Pro and against `python -m nlu serve`."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any


class NluServerError(RuntimeError):
    """The NLU server could not answer; the message names the URL and what to do."""

    retryable = True


class RasaHttpParser:
    def __init__(self, url: str, timeout_s: float = 2.0) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"Rasa server URL {url!r} must start with http:// or https://")
        self.url = url.rstrip("/")
        self.timeout_s = timeout_s

    def parse(self, text: str) -> dict[str, Any]:
        body = json.dumps({"text": text}, ensure_ascii=False).encode("utf-8")
        request = urllib.request.Request(f"{self.url}/model/parse", data=body, method="POST",
                                         headers={"Content-Type": "application/json"})
        where = f"Rasa server {self.url}"
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:
            raise NluServerError(f"{where} answered HTTP {exc.code} to POST /model/parse; "
                                 "check that it runs with a trained model") from None
        except TimeoutError:  # socket.timeout is TimeoutError since Python 3.10
            raise NluServerError(f"{where} did not answer within {self.timeout_s:g}s; check "
                                 "the server's load or raise the campaign's nlu.timeout_s"
                                 ) from None
        except (urllib.error.URLError, ConnectionError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise NluServerError(f"{where} is not reachable ({reason}); start it (rasa run "
                                 "--enable-api) or fix the campaign's nlu.rasa_url") from None
        try:
            answer = json.loads(raw)
            if not isinstance(answer["intent"]["name"], str):
                raise TypeError("intent name")
            float(answer["intent"]["confidence"])
        except (ValueError, KeyError, TypeError):
            raise NluServerError(f"{where} answered something that is not a /model/parse "
                                 f"result: {raw[:200]!r}") from None
        return dict(answer)
