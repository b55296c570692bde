"""The data model: campaigns, their contacts, call attempts and the turns of each call.
The values of its status and disposition columns are the enums of campaigns/statuses.py.

Later issues extend these tables (compliance, agents, analytics) through new Alembic
revisions; nothing here is meant to be redone.
"""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from campaigns.statuses import AttemptStatus, CampaignStatus, ContactStatus


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class Campaign(Base):
    __tablename__ = "campaign"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    status: Mapped[str] = mapped_column(String(20), default=CampaignStatus.DRAFT)
    # Directory holding script.yml, nlu.yml and optional personas.yml.
    script_dir: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(16), default="ko")
    region: Mapped[str] = mapped_column(String(2), default="KR")
    caller_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # The robot's TTS voice (an espeak-ng voice through pyttsx3); None: the worker's
    # DIALER_TTS_VOICE. The trunk's host[:port]; None: the worker's DIALER_SIP_TRUNK
    # (its credentials and proxy stay the worker's).
    voice: Mapped[str | None] = mapped_column(String(64), nullable=True)
    trunk: Mapped[str | None] = mapped_column(String(255), nullable=True)
    max_concurrent: Mapped[int] = mapped_column(Integer, default=2)
    max_attempts: Mapped[int] = mapped_column(Integer, default=1)
    retry_delay_s: Mapped[int] = mapped_column(Integer, default=600)
    ring_timeout_s: Mapped[int] = mapped_column(Integer, default=25)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # Calls only in this window of the callee's local day (campaigns.windows: never
    # outside 08:00-21:00), and only between these days.
    window_start: Mapped[str] = mapped_column(String(5), default="09:00",
                                              server_default="09:00")
    window_end: Mapped[str] = mapped_column(String(5), default="20:00", server_default="20:00")
    first_day: Mapped[date | None] = mapped_column(Date, nullable=True)
    last_day: Mapped[date | None] = mapped_column(Date, nullable=True)
    # Pacing: new calls a second, over all workers.
    max_cps: Mapped[float] = mapped_column(Float, default=1.0, server_default="1.0")
    # Seconds before a retry, per disposition (busy, no_answer, failed, machine,
    # dead_air); retry_delay_s for the others.
    retry_delays: Mapped[dict[str, int] | None] = mapped_column(JSON, nullable=True)
    # A dry-run dials simulated customers only (the demo, rehearsals before going live):
    # call windows protect people and do not apply to it; DNC lists still do.
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # A dry-run made to rehearse another campaign (dialer/sandbox/rehearsal.py) points at it.
    rehearsal_of: Mapped[int | None] = mapped_column(
        ForeignKey("campaign.id", ondelete="CASCADE"), nullable=True, index=True)

    contacts: Mapped[list[Contact]] = relationship(back_populates="campaign")


class ImportBatch(Base):
    """One uploaded call list: the stored original file and what became of its rows."""

    __tablename__ = "import_batch"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"))
    filename: Mapped[str] = mapped_column(Text)
    stored_path: Mapped[str] = mapped_column(Text)
    total_rows: Mapped[int] = mapped_column(Integer, default=0)
    accepted: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Uploads from the web import in the background: queued -> running -> done, or
    # failed (message says why, the stored file stays) or needs_mapping (the phone
    # column could not be told; the person picks it). progress: 0..1.
    status: Mapped[str] = mapped_column(String(16), default="done", server_default="done")
    progress: Mapped[float] = mapped_column(Float, default=1.0, server_default="1.0")
    message: Mapped[str | None] = mapped_column(Text, nullable=True)
    phone_column: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # When the stored file was deleted under the upload retention rule
    # (campaigns/uploads.py); the counts and rejected rows stay.
    purged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    rejections: Mapped[list[ImportRejection]] = relationship(back_populates="batch")


class ImportRejection(Base):
    """A CSV row that did not become a contact, with the reason, so nothing is lost."""

    __tablename__ = "import_rejection"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("import_batch.id"), index=True)
    row: Mapped[int] = mapped_column(Integer)  # 1-based data row; header is row 0
    value: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    raw: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    batch: Mapped[ImportBatch] = relationship(back_populates="rejections")


class Contact(Base):
    __tablename__ = "contact"
    __table_args__ = (
        UniqueConstraint("campaign_id", "phone", name="uq_contact_campaign_phone"),
        Index("ix_contact_due", "campaign_id", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"))
    phone: Mapped[str] = mapped_column(String(32))  # E.164
    # Every other CSV column, kept as given; scripts use them as {name}.
    fields: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    source_row: Mapped[int | None] = mapped_column(Integer, nullable=True)
    status: Mapped[str] = mapped_column(String(16), default=ContactStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_disposition: Mapped[str | None] = mapped_column(String(32), nullable=True)
    # IANA zones the callee may be in, comma-separated (from the number, or a column).
    timezones: Mapped[str | None] = mapped_column(String(200), nullable=True)

    campaign: Mapped[Campaign] = relationship(back_populates="contacts")
    call_attempts: Mapped[list[CallAttempt]] = relationship(back_populates="contact")


class CallAttempt(Base):
    __tablename__ = "call_attempt"
    __table_args__ = (
        # The guard against double dialing: one row per (contact, attempt number).
        UniqueConstraint("contact_id", "attempt_no", name="uq_attempt_contact_no"),
        # The dispatcher looks for open attempts of any campaign (campaigns.leases).
        Index("ix_call_attempt_status", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"), index=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contact.id"))
    attempt_no: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default=AttemptStatus.QUEUED)
    sip_uri: Mapped[str | None] = mapped_column(Text, nullable=True)
    sip_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    sip_reason: Mapped[str | None] = mapped_column(String(200), nullable=True)
    disposition: Mapped[str | None] = mapped_column(String(32), nullable=True)
    handoff: Mapped[bool] = mapped_column(Boolean, default=False)
    # Why this disposition: the customer's decline reason, why the robot escalated, ...
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    end_node: Mapped[str | None] = mapped_column(String(100), nullable=True)
    # Entities the script keeps from the replies, e.g. {"day": "내일", "time": "3시"}.
    slots: Mapped[dict[str, str] | None] = mapped_column(JSON, nullable=True)
    recording_path: Mapped[str | None] = mapped_column(Text, nullable=True)
    # The audio codec the line negotiated, as pjsip names it ("PCMU/8000", "G722/16000");
    # NULL when no media flowed. G.711's 8 kHz is heard less well by the recogniser.
    codec: Mapped[str | None] = mapped_column(String(32), nullable=True)
    worker: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # The call process's last sign of life while the attempt is open (dialing, answered):
    # a call whose process stopped is found by its stale lease (campaigns.leases).
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True),
                                                          nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    dialed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # Handoff to a person (dialer.handoff.desk): the agent who took it, when the robot decided
    # to hand off, when the agent's phone rang and answered; handoff_result is
    # connected | abandoned (no agent in the campaign's limit: callback_at promised) |
    # failed. The agent's own disposition and notes come from the console's form.
    agent: Mapped[str | None] = mapped_column(String(64), nullable=True)
    handoff_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    agent_ringing_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True),
                                                              nullable=True)
    agent_connected_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True),
                                                                nullable=True)
    handoff_result: Mapped[str | None] = mapped_column(String(16), nullable=True)
    callback_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True),
                                                         nullable=True)
    agent_disposition: Mapped[str | None] = mapped_column(String(32), nullable=True)
    agent_notes: Mapped[str | None] = mapped_column(Text, nullable=True)

    contact: Mapped[Contact] = relationship(back_populates="call_attempts")
    turns: Mapped[list[Turn]] = relationship(back_populates="attempt", order_by="Turn.seq")


class Turn(Base):
    """One utterance of the call, by the bot or the customer."""

    __tablename__ = "turn"
    __table_args__ = (UniqueConstraint("attempt_id", "seq", name="uq_turn_attempt_seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("call_attempt.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    speaker: Mapped[str] = mapped_column(String(16))  # "bot" | "customer" | "agent"
    node: Mapped[str | None] = mapped_column(String(100), nullable=True)
    text: Mapped[str] = mapped_column(Text, default="")
    intent: Mapped[str | None] = mapped_column(String(100), nullable=True)
    confidence: Mapped[float | None] = mapped_column(Float, nullable=True)  # NLU
    asr_confidence: Mapped[float | None] = mapped_column(Float, nullable=True)
    # Customer turns: end of speech -> first bot audio frame of the reply.
    latency_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    asr_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    nlu_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    offset_ms: Mapped[float | None] = mapped_column(Float, nullable=True)  # from answer
    duration_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    # Customer turns: endpoint decision -> first frame of the reply.
    processing_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    # Robot turns: rendering time (0 when the prompt was cached) and whether the customer
    # barged in.
    tts_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    interrupted: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Customer turns: "asked" when the robot asked them to confirm the irreversible
    # action this reply would take; "yes" / "no" / "unclear" on the reply to that
    # question. `commits` names the irreversible action (e.g. opt_out) the robot took on
    # this reply: only then is the number put on a do-not-call list.
    confirmation: Mapped[str | None] = mapped_column(String(16), nullable=True)
    commits: Mapped[str | None] = mapped_column(String(32), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    attempt: Mapped[CallAttempt] = relationship(back_populates="turns")


class Trunk(Base):
    """A SIP trunk campaigns may dial through, kept by admins: where calls go, the
    credentials and the one realm they answer, and the caller IDs it allows. A campaign
    names one; the password is never shown back."""

    __tablename__ = "trunk"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    host: Mapped[str] = mapped_column(String(255))  # host[:port] of sip:<number>@<host>
    transport: Mapped[str] = mapped_column(String(8), default="udp", server_default="udp")
    registrar: Mapped[str | None] = mapped_column(String(255), nullable=True)
    outbound_proxy: Mapped[str | None] = mapped_column(String(255), nullable=True)
    username: Mapped[str | None] = mapped_column(String(128), nullable=True)
    password: Mapped[str | None] = mapped_column(String(255), nullable=True)
    realm: Mapped[str | None] = mapped_column(String(255), nullable=True)
    caller_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(64), nullable=True)


class Role(enum.StrEnum):
    """Who may do what in the web app and the API (every route names the roles it
    allows)."""

    ADMIN = "admin"  # users, everything
    MARKETING = "marketing"  # campaigns, call lists, DNC, dry-runs
    AGENT = "agent"  # the live-agent console
    ANALYST = "analyst"  # dashboards, call records
    SUPERVISOR = "supervisor"  # the agents' floor: their states, live calls, listen in


class User(Base):
    """A person who logs in to the web app. Passwords are kept only as scrypt hashes."""

    __tablename__ = "app_user"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Password checks since the last successful login, for admins to see guessing. It
    # locks nothing: guessing is slowed per address (LoginThrottle). locked_until is
    # no longer set (revision 0010) and stays for old databases.
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True),
                                                          nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True),
                                                           nullable=True)
    # Agents: the phone a handed-off call rings (sip:agent1@pbx.example.com) and the
    # skills routing matches against (comma-separated).
    sip_uri: Mapped[str | None] = mapped_column(String(255), nullable=True)
    skills: Mapped[str | None] = mapped_column(String(255), nullable=True)
    # The IANA zone the user reads times in (campaigns/preferences.py); None: the zone
    # of the app's default region.
    time_zone: Mapped[str | None] = mapped_column(String(64), nullable=True)
    language: Mapped[str | None] = mapped_column(String(8), nullable=True)  # en, ko


class LoginThrottle(Base):
    """The pace of login attempts from one source: an address, or one user name from
    one address (campaigns/users.py). `key` is a SHA-256, so no typed user name is
    kept; times are seconds since the epoch (UTC)."""

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_attempt: Mapped[float] = mapped_column(Float, index=True)
    not_before: Mapped[float] = mapped_column(Float)  # no attempt is taken before this


class WebSession(Base):
    """A logged-in browser. The cookie holds a random token; only its SHA-256 is stored,
    so a copy of the database opens no session. Each session has its CSRF token."""

    __tablename__ = "web_session"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"),
                                         index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class DncEntry(Base):
    """A number nobody may call: on the global list (campaign_id None) or one campaign's.
    Entries are never edited, only added and removed; `source` says how it came."""

    __tablename__ = "dnc_entry"
    __table_args__ = (UniqueConstraint("scope", "phone", name="uq_dnc_scope_phone"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    phone: Mapped[str] = mapped_column(String(32), index=True)  # E.164
    scope: Mapped[str] = mapped_column(String(32))  # "global" | "campaign:<id>"
    campaign_id: Mapped[int | None] = mapped_column(
        ForeignKey("campaign.id", ondelete="CASCADE"), nullable=True)
    source: Mapped[str] = mapped_column(String(16))  # manual | upload | opt_out | dtmf | api | agent
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    added_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AuditEntry(Base):
    """Who did what with the data: one row per export (and later other sensitive
    actions), never edited. `detail` holds what was done, e.g. for a CDR export
    {"format": "xlsx", "filters": {...}, "rows": 1234, "complete": true}."""

    __tablename__ = "audit_entry"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    username: Mapped[str] = mapped_column(String(64), index=True)
    role: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(32))  # cdr_export, ...
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
