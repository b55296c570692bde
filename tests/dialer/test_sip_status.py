"""A call that never connected: its final SIP status decides the disposition (and so the
retry rule) and the sentence the report shows."""

from __future__ import annotations

import pytest

from campaigns.models import RETRYABLE_DISPOSITIONS, Disposition
from dialer.session import disposition_for_failure, failure_reason


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
