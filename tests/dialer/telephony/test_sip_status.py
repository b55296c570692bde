"""A call that never connected: its final SIP status decides the disposition (and so the
retry rule) and the sentence the report shows."""

from __future__ import annotations

import threading
from types import SimpleNamespace

import pytest

from campaigns.statuses import RETRYABLE_DISPOSITIONS, Disposition
from dialer.call.failures import disposition_for_failure, failure_reason, not_connected
from dialer.conversation.outcomes import CallOutcome
from dialer.telephony.call import retry_after_s


@pytest.mark.parametrize(("status", "disposition", "retried"), [
    (486, "busy", True), (600, "busy", True), (603, "declined", False),
    (408, "no_answer", True), (480, "no_answer", True), (487, "no_answer", True),
    (404, "invalid_number", False), (410, "invalid_number", False),
    (484, "invalid_number", False), (604, "invalid_number", False),
    (503, "failed", True), (488, "failed", True), (403, "failed", True),
    (500, "failed", True), (606, "failed", True), (0, "failed", True),
])
def test_status_to_disposition_and_retry(status: int, disposition: str, retried: bool) -> None:
    got = disposition_for_failure(status)
    assert got == disposition and Disposition(got)
    assert (got in RETRYABLE_DISPOSITIONS) is retried


def test_the_reason_names_the_status_the_peers_words_and_what_it_means() -> None:
    assert failure_reason(503, "Service Unavailable") == (
        "503 Service Unavailable: the trunk or the far end is overloaded or down: "
        "called again later")
    assert "not called again" in str(failure_reason(404, "Not Found"))
    assert "check the trunk's codecs" in str(failure_reason(488, "Not Acceptable Here"))
    assert str(failure_reason(502, "")).startswith("502: the trunk or the far end failed")
    # Statuses that say nothing more than their disposition get no sentence.
    assert failure_reason(487, "Request Terminated") is None
    assert failure_reason(408, "Request Timeout") is None


@pytest.mark.parametrize("status", range(300, 700))
def test_every_status_has_a_disposition_and_the_sentence_tells_its_retry_rule(
        status: int) -> None:
    """The sentence the report shows never contradicts what the campaign does."""
    disposition = disposition_for_failure(status)
    assert Disposition(disposition)
    sentence = failure_reason(status, "Whatever") or ""
    if "not called again" in sentence:
        assert disposition not in RETRYABLE_DISPOSITIONS, (status, sentence)
    elif "called again later" in sentence:
        assert disposition in RETRYABLE_DISPOSITIONS, (status, sentence)
    if sentence:
        assert sentence.startswith(f"{status} Whatever: ")
        assert "no SIP response" not in sentence and "trunk is up" not in sentence


def test_a_number_that_does_not_exist_is_not_called_again_but_a_config_fault_is() -> None:
    for status in (404, 410, 484, 604):
        assert disposition_for_failure(status) not in RETRYABLE_DISPOSITIONS
    # 488: the robot's (or the trunk's) configuration, not the contact: kept for later.
    reason = str(failure_reason(488, "Not Acceptable Here"))
    assert "configuration problem" in reason and "G.722, PCMU, PCMA" in reason
    assert disposition_for_failure(488) in RETRYABLE_DISPOSITIONS
    for status in (401, 407):
        assert "user name and password" in str(failure_reason(status, "Unauthorized"))


def test_a_retry_after_is_told_in_the_reason() -> None:
    assert failure_reason(503, "Service Unavailable", 120) == (
        "503 Service Unavailable: the trunk or the far end is overloaded or down: called "
        "again later; it asked for no new call within 120 s (Retry-After)")
    # A status with nothing more to say gets a sentence for its Retry-After alone.
    assert failure_reason(487, "Request Terminated", 30) == (
        "487 Request Terminated: it asked for no new call within 30 s (Retry-After)")
    assert failure_reason(503, "Service Unavailable", None) == failure_reason(
        503, "Service Unavailable")


@pytest.mark.parametrize(("message", "seconds"), [
    ("SIP/2.0 503 Service Unavailable\r\nRetry-After: 120\r\nContent-Length: 0\r\n\r\n", 120),
    ("SIP/2.0 503 Busy\r\nretry-after :18000;duration=3600\r\n\r\n", 18000),
    ("SIP/2.0 486 Busy Here\r\nRetry-After: 5 (in a meeting)\r\n\r\n", 5),
    ("SIP/2.0 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n", None),
    ("SIP/2.0 503 x\r\nX-Retry-After: 9\r\nSubject: Retry-After: 7\r\n\r\n", None),
])
def test_retry_after_is_read_from_the_response(message: str, seconds: int | None) -> None:
    assert retry_after_s(message) == seconds


def _failed_call(status: int, reason: str, responded: bool,
                 retry_after: int | None = None) -> CallOutcome:
    """What a call session reports for a call that never connected."""
    answered = threading.Event()
    if responded:
        answered.set()
    call = SimpleNamespace(uri="sip:+821055550000@10.1.2.3:5060", peer_responded=answered,
                           status=status, reason=reason, retry_after_s=retry_after)
    return not_connected(call, 6.0)  # type: ignore[arg-type]


def test_a_final_response_is_reported_as_itself() -> None:
    out = _failed_call(503, "Service Unavailable", responded=True, retry_after=60)
    assert (out.disposition, out.sip_status, out.sip_reason) == (
        "failed", 503, "Service Unavailable")
    assert "overloaded or down" in str(out.reason) and "60 s (Retry-After)" in str(out.reason)
    out = _failed_call(404, "Not Found", responded=True)
    assert (out.disposition, out.sip_status) == ("invalid_number", 404)


def test_silence_from_the_trunk_is_a_timeout_with_the_hint() -> None:
    out = _failed_call(408, "Request Timeout", responded=False)
    assert (out.disposition, out.sip_status, out.sip_reason) == ("failed", 408, "No response")
    assert out.reason == ("no SIP response from 10.1.2.3:5060 within 6s; check that the trunk "
                          "is up and DIALER_SIP_TRUNK (host:port) is right")
