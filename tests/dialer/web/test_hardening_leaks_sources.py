"""Issue 15, defect 6, at the source: the texts the worker stores with a call (its reason,
a SIP error) name no number and no SIP URI, whoever reads them later. Each path is
driven with stand-ins for the SIP stack, so no trunk is needed."""

from __future__ import annotations

import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pjsua2 as pj
import pytest

from dialer.call.session import CallSession, place
from dialer.telephony import sip
from dialer.telephony.call import SipCall, SipError
from dialer.telephony.sip import UserAgent

CALLEE = "sip:+821055556666@10.0.0.7:5060"


def pj_error(reason: str) -> pj.Error:
    err = pj.Error()
    err.title, err.reason, err.status = "Call::makeCall()", reason, 171039
    return err


def no_number(text: str | None) -> bool:
    return text is not None and "5555" not in text and "sip:" not in text


def test_no_answer_from_the_trunk_names_no_callee() -> None:
    call = SimpleNamespace(uri=CALLEE, peer_responded=threading.Event())
    session = SimpleNamespace(_wait_answer=lambda c: False,
                              cfg=SimpleNamespace(no_response_wait_s=30.0))
    outcome = CallSession._run(session, call, {}, None)  # type: ignore[arg-type]
    assert outcome.sip_status == 408 and "no SIP response" in (outcome.reason or "")
    assert no_number(outcome.reason), outcome.reason


def test_a_call_that_cannot_be_placed_names_no_callee(monkeypatch: pytest.MonkeyPatch
                                                      ) -> None:
    class Unplaceable:
        def __init__(self, account: Any, recording: Path | None = None) -> None:
            self.uri = ""

        def makeCall(self, uri: str, prm: Any) -> None:
            raise pj_error("Invalid URI")

    monkeypatch.setattr(sip, "SipCall", Unplaceable)
    with pytest.raises(SipError) as caught:
        UserAgent.make_call(SimpleNamespace(), None, CALLEE)  # type: ignore[arg-type]
    assert "Invalid URI" in str(caught.value) and no_number(str(caught.value))
    # ... which is what place() stores as the call's reason
    session = SimpleNamespace(run=lambda uri, fields, rec: (_ for _ in ()).throw(caught.value))
    outcome = place(None, None, CALLEE, session, {}, None)  # type: ignore[arg-type]
    assert no_number(outcome.reason), outcome.reason


def test_a_refused_transfer_names_neither_party() -> None:
    def xfer(uri: str, prm: Any) -> None:
        raise pj_error("Not allowed")

    leg = SimpleNamespace(uri=CALLEE, xfer=xfer)
    with pytest.raises(SipError) as caught:
        SipCall.transfer(leg, "sip:+821077778888@pbx")  # type: ignore[arg-type]
    assert no_number(str(caught.value)) and "7777" not in str(caught.value)
