"""Where a campaign, a contact and a call attempt stand, and how an attempt ended (its
disposition): the values the status and disposition columns of campaigns/models.py
hold. Plain enums, no SQLAlchemy.

Disposition maps dialer.conversation.outcomes.Outcome by name (every way a call ends)
and adds the dispatcher's own; that mapping is why campaigns may import the conversation.
"""

from __future__ import annotations

import enum

from campaigns.refusals import Code, Refusal
from dialer.conversation.outcomes import Outcome


class DispositionError(Refusal, ValueError):
    """A disposition typed that is none of them; the sentence names the valid ones."""


class CampaignStatus(enum.StrEnum):
    DRAFT = "draft"
    RUNNING = "running"
    PAUSED = "paused"
    STOPPED = "stopped"
    FINISHED = "finished"


class ContactStatus(enum.StrEnum):
    PENDING = "pending"  # due for a (re)try at next_attempt_at
    CLAIMED = "claimed"  # an attempt exists and is queued or in progress
    DONE = "done"  # final disposition reached or attempts exhausted


class AttemptStatus(enum.StrEnum):
    QUEUED = "queued"  # claimed by the dispatcher, place_call not started
    DIALING = "dialing"  # place_call took it; INVITE sent or about to be
    ANSWERED = "answered"  # media flowing, conversation running
    COMPLETED = "completed"  # call ended with a disposition
    FAILED = "failed"  # could not be placed or crashed; error says why


class Disposition(enum.StrEnum):
    """How an attempt ended, in the words marketing staff use: every way a call ends
    (dialer.conversation.outcomes.Outcome, mapped here by name) and the dispatcher's own."""

    INTERESTED = Outcome.INTERESTED.value
    NOT_INTERESTED = Outcome.NOT_INTERESTED.value
    CALLBACK = Outcome.CALLBACK.value
    HANDOFF = Outcome.HANDOFF.value
    OPT_OUT = Outcome.OPT_OUT.value
    NO_INPUT = Outcome.NO_INPUT.value
    HUNG_UP = Outcome.HUNG_UP.value
    DEAD_AIR = Outcome.DEAD_AIR.value
    MACHINE = Outcome.MACHINE.value
    NO_ANSWER = Outcome.NO_ANSWER.value
    BUSY = Outcome.BUSY.value
    DECLINED = Outcome.DECLINED.value
    FAILED = Outcome.FAILED.value
    INVALID_NUMBER = Outcome.INVALID_NUMBER.value
    BLOCKED = "blocked"  # never dialed: on a do-not-call list when its turn came
    # The process placing the call stopped during it (killed, its host lost): closed by
    # another worker's dispatcher (campaigns.leases); the callee was cut off or never rang.
    INTERRUPTED = "interrupted"

    @classmethod
    def parse(cls, text: str | None) -> str | None:
        """A disposition typed as a filter: None when blank; ValueError naming the
        valid ones otherwise (a DispositionError)."""
        text = (text or "").strip()
        if text and text not in {d.value for d in cls}:
            raise DispositionError("no disposition {text!r}; one of {dispositions}",
                                   text=text,
                                   dispositions=[Code(d.value, "disposition") for d in cls])
        return text or None


# Dispositions after which a contact may be tried again (when attempts remain).
RETRYABLE_DISPOSITIONS = frozenset(
    {Disposition.NO_ANSWER, Disposition.BUSY, Disposition.FAILED, Disposition.DEAD_AIR,
     Disposition.MACHINE, Disposition.INTERRUPTED}
)
