"""What the SIP status of a call that never connected means: its outcome (and so whether
the campaign calls again) and a sentence for the people reading the report."""

from __future__ import annotations

import threading
from typing import Protocol

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


_CREDENTIALS = ("the trunk wants credentials the robot lacks, or refused the ones it has: "
                "check the trunk's user name and password")
# What a final status from the peer means for the people reading the report (the
# status and the peer's own words are stored beside it).
_FAILURE_REASONS = {
    401: _CREDENTIALS,
    407: _CREDENTIALS,
    403: "the trunk refused the call: check its credentials and the caller ID",
    404: "the number does not exist: it is not called again",
    410: "the number is no longer in service: it is not called again",
    484: "the number is incomplete: it is not called again",
    604: "the number does not exist anywhere: it is not called again",
    480: "the callee is not reachable now: called again later",
    486: "busy: called again later",
    488: "no codec in common with the far end (the robot offers G.722, PCMU, PCMA), a "
         "configuration problem: check the trunk's codecs; called again later",
    606: "the far end accepts none of the robot's media (G.722, PCMU, PCMA)",
    503: "the trunk or the far end is overloaded or down: called again later",
    603: "the callee declined the call: it is not called again",
}


def failure_reason(status: int, reason: str, retry_after_s: int | None = None) -> str | None:
    """A sentence for the report on why a call that never connected ended. A Retry-After
    (a 503's, usually) is told, not obeyed: it asks for a pause of the trunk, every call
    through it, not of this one number, and the campaign's own retry delay is in most
    cases the longer anyway."""
    why = _FAILURE_REASONS.get(status)
    if why is None and status >= 500:
        why = "the trunk or the far end failed: called again later"
    if retry_after_s is not None:
        pause = f"it asked for no new call within {retry_after_s} s (Retry-After)"
        why = f"{why}; {pause}" if why else pause
    return f"{status} {reason or ''}".strip() + f": {why}" if why else None


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
            reason=f"no SIP response from {trunk_host(call.uri)} within "
                   f"{no_response_wait_s:.0f}s; check "
                   "that the trunk is up and DIALER_SIP_TRUNK (host:port) is right")
    status = call.status or 408
    return CallOutcome(disposition=disposition_for_failure(status), sip_status=status,
                       sip_reason=call.reason,
                       reason=failure_reason(status, call.reason, call.retry_after_s))
