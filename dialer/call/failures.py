"""What the SIP status of a call that never connected means: its outcome (and so whether
the campaign calls again) and a sentence for the people reading the report."""

from __future__ import annotations

import threading
from typing import Protocol

from campaigns.refusals import Phrase
from dialer.conversation.outcomes import CallOutcome, Outcome


def trunk_host(uri: str) -> str:
    """The host[:port] a call went to, without its user part (the callee's number)."""
    return uri.rsplit("@", 1)[-1].split(";", 1)[0].removeprefix("sip:").removeprefix("sips:")


def disposition_for_failure(status: int) -> str:
    """SIP final status of a call that never connected -> disposition (and so whether
    the campaign calls again: campaigns.models.RETRYABLE_DISPOSITIONS)."""
    if status in (486, 600):
        return Outcome.BUSY
    if status == 603:
        return Outcome.DECLINED
    if status in (408, 480, 487):
        return Outcome.NO_ANSWER
    if status in (404, 410, 484, 604):
        return Outcome.INVALID_NUMBER
    return Outcome.FAILED


_CREDENTIALS = Phrase("the trunk wants credentials the robot lacks, or refused the ones it "
                      "has: check the trunk's user name and password")
# What a final status from the peer means for the people reading the report (the
# status and the peer's own words are stored beside it). Phrases: a page says them in
# the reader's language (dialer/web/locale/ko/refusals_calls.json).
_FAILURE_REASONS = {
    401: _CREDENTIALS,
    407: _CREDENTIALS,
    403: Phrase("the trunk refused the call: check its credentials and the caller ID"),
    404: Phrase("the number does not exist: it is not called again"),
    410: Phrase("the number is no longer in service: it is not called again"),
    484: Phrase("the number is incomplete: it is not called again"),
    604: Phrase("the number does not exist anywhere: it is not called again"),
    480: Phrase("the callee is not reachable now: called again later"),
    486: Phrase("busy: called again later"),
    488: Phrase("no codec in common with the far end (the robot offers G.722, PCMU, PCMA), "
                "a configuration problem: check the trunk's codecs; called again later"),
    606: Phrase("the far end accepts none of the robot's media (G.722, PCMU, PCMA)"),
    503: Phrase("the trunk or the far end is overloaded or down: called again later"),
    603: Phrase("the callee declined the call: it is not called again"),
}


def failure_reason(status: int, reason: str, retry_after_s: int | None = None) -> str | None:
    """A sentence for the report on why a call that never connected ended. A Retry-After
    (a 503's, usually) is told, not obeyed: it asks for a pause of the trunk, every call
    through it, not of this one number, and the campaign's own retry delay is in most
    cases the longer anyway. Each shape its own whole sentence, not one inside another:
    a stored reason is matched back to its catalogue text whole (dialer.web.i18n)."""
    why = _FAILURE_REASONS.get(status)
    if why is None and status >= 500:
        why = Phrase("the trunk or the far end failed: called again later")
    peer = (reason or "").rstrip()  # as the old "{status} {reason}".strip() had it
    if retry_after_s is None:
        if why is None:
            return None
        if peer:
            return Phrase("{sip_status} {sip_reason}: {why}", sip_status=status,
                          sip_reason=peer, why=why)
        return Phrase("{sip_status}: {why}", sip_status=status, why=why)
    values = {"sip_status": status, "sip_reason": peer, "seconds": retry_after_s}
    if why is not None and peer:
        return Phrase("{sip_status} {sip_reason}: {why}; it asked for no new call within "
                      "{seconds} s (Retry-After)", why=why, **values)
    if why is not None:
        return Phrase("{sip_status}: {why}; it asked for no new call within {seconds} s "
                      "(Retry-After)", why=why, **values)
    if peer:
        return Phrase("{sip_status} {sip_reason}: it asked for no new call within {seconds} s "
                      "(Retry-After)", **values)
    return Phrase("{sip_status}: it asked for no new call within {seconds} s (Retry-After)",
                  **values)


class UnansweredCall(Protocol):
    """What a call that never connected tells (dialer.telephony.call.SipCall)."""

    uri: str
    status: int
    reason: str
    retry_after_s: int | None
    peer_responded: threading.Event


def not_connected(call: UnansweredCall, no_response_wait_s: float) -> CallOutcome:
    """The outcome of a call that was never answered: its final status, or a timeout
    with a hint to check the trunk when not even "100 Trying" came back."""
    if not call.peer_responded.is_set():
        return CallOutcome(
            disposition=Outcome.FAILED, sip_status=408, sip_reason="No response",
            # The trunk's host, never the callee's number (analysts read it).
            reason=Phrase("no SIP response from {host} within {seconds:.0f}s; check that the "
                          "trunk is up and DIALER_SIP_TRUNK (host:port) is right",
                          host=trunk_host(call.uri), seconds=no_response_wait_s))
    status = call.status or 408
    return CallOutcome(disposition=disposition_for_failure(status), sip_status=status,
                       sip_reason=call.reason,
                       reason=failure_reason(status, call.reason, call.retry_after_s))
