"""Advice on a campaign's NLU examples for its page (nlu/advice.py): too few per intent,
two intents' examples meaning the same, examples misread when held out.

Cross-validating trains a model per fold (a few seconds), so the page asks for it
separately (GET /api/campaigns/{id}/nlu-advice) and the answer is kept per version of
the campaign's nlu.yml and script.yml: a second look costs nothing, an edited file is
advised on afresh. The sentence encoder is loaded into the web process only when advice
is first asked for.
"""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path
from typing import Any

from campaigns.refusals import Phrase

_CACHE: dict[str, dict[str, Any]] = {}
_LOCK = threading.Lock()  # one cross-validation at a time: the web server has 2 cores
_MAX_CACHED = 64


def nlu_advice(script_dir: Path | str) -> dict[str, Any]:
    """The advice for the campaign directory, or {"error": ...} when it cannot be read."""
    from dialer.conversation.kit import read_campaign
    from dialer.conversation.script import ScriptError
    from nlu.advice import advise
    from nlu.component import NluModelError
    from nlu.training_data import NluDataError

    directory = Path(script_dir)
    try:
        key = _version(directory)
    except OSError as exc:
        return {"error": Phrase("the campaign's script cannot be read ({why})",
                                why=exc.strerror)}
    with _LOCK:
        if key in _CACHE:
            return _CACHE[key]
        try:
            script, data = read_campaign(directory)
        except (ScriptError, NluDataError) as exc:
            return {"error": str(exc)}
        if script.rasa_url or script.nlu_model is not None:
            return {"error": Phrase("this script uses its own NLU model or Rasa server; "
                                    "advice is given on training data trained here")}
        try:
            found = _without_paths(advise(data, script.nlu_config).as_dict(), directory)
        except NluModelError as exc:
            return {"error": str(exc)}
        if len(_CACHE) >= _MAX_CACHED:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = found
        return found


def _without_paths(found: dict[str, Any], directory: Path) -> dict[str, Any]:
    """The advice with its examples' places said as "nlu.yml:50": the server's folders
    are nobody's business on a web page."""
    text = json.dumps(found, ensure_ascii=False)
    for path in {str(directory.resolve()), str(directory)}:
        text = text.replace(json.dumps(path + "/")[1:-1], "")
    out: dict[str, Any] = json.loads(text)
    return out


def _version(directory: Path) -> str:
    digest = hashlib.sha256(str(directory.resolve()).encode())
    for name in ("nlu.yml", "script.yml"):
        digest.update((directory / name).read_bytes())
    return digest.hexdigest()
