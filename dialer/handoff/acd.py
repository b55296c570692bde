"""Agent presence and automatic call distribution, kept in Redis so every web and worker
host sees the same agents and queues.

Agents log in (not ready), go ready, get offered a call, take it, wrap up, and are ready
again; not-ready states carry a reason. Escalated calls wait in a queue per campaign or
skill, oldest first. Routing gives a waiting call to the ready agent idle the longest
who has every skill the call needs, or first to the agent who last spoke to the contact
when they are ready. One Lua script does the pick and both state changes, so two hosts
routing at the same moment never offer one agent two calls or one call to two agents.

Keys (prefix `acd:` by default):
  agent:<id>          hash  state, reason, since, name, sip_uri, call
  agent:<id>:skills   set
  ready               zset  agent -> when they became ready (longest idle = lowest)
  queue:<name>        zset  call -> when it was queued (oldest first)
  queues              set   queue names with calls waiting
  call:<id>           hash  queue, skills, queued_at, state, agent, prefer, info (JSON)
  call:<id>:transcript list JSON turns said so far (the screen pop's transcript)
  calls               zset  call -> when it was queued (every call not yet ended, for
                            the console's list and the supervisor)
  events              pub/sub channel: one JSON message per change (queued, offered,
                            accepted, rejected, ringing, connected, transcript, ended,
                            abandoned, agent), pushed to the consoles; an agent's
                            console gets only what is about them (`event_for_agent`)
  floor               pub/sub channel: supervisors' monitor commands and how they went
                            (command, monitoring, monitor_failed), for supervisors only
  call:<id>:commands  list  those commands, for the worker carrying the call
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import redis

from dialer.handoff.routing import ROUTE_SCRIPT

_SHARED: dict[str, Acd] = {}

STATES = ("offline", "not_ready", "ready", "offered", "on_call", "wrap_up")
# Kept off the channel agents read: an agent must not learn they are being listened to.
MONITOR_EVENTS = frozenset({"command", "monitoring", "monitor_failed"})
NOT_READY_REASONS = ("logged in", "break", "lunch", "meeting", "training", "rejected offer",
                     "missed offer", "other")


class AcdError(ValueError):
    """A request the agent's or call's state does not allow; says what is allowed."""


@dataclass(frozen=True)
class Offer:
    call_id: str
    agent_id: str
    queue: str
    waited_s: float


class Acd:
    def __init__(self, client: redis.Redis, prefix: str = "acd:",
                 clock: Callable[[], float] = time.time) -> None:
        # Any: redis-py's stubs type replies as bytes | str; decode_responses gives str.
        self.r: Any = client
        self.p, self.now = prefix, clock
        self._route = self.r.register_script(ROUTE_SCRIPT)

    @classmethod
    def from_url(cls, url: str, prefix: str = "acd:") -> Acd:
        return cls(redis.Redis.from_url(url, decode_responses=True), prefix)

    @classmethod
    def shared(cls, url: str) -> Acd:
        """This process's ACD at `url` (one connection pool for every page and route)."""
        if url not in _SHARED:
            _SHARED[url] = cls.from_url(url)
        return _SHARED[url]

    # -- agents ---------------------------------------------------------------------
    def login(self, agent_id: str, *, name: str = "", sip_uri: str = "",
              skills: Iterable[str] = (), auto_accept: bool = False) -> None:
        """Present, not ready yet ("logged in"). `auto_accept`: offers are taken at once
        (the phone rings without a click), as with a headset agent on forced answer."""
        key = self._agent(agent_id)
        with self.r.pipeline() as p:
            p.hset(key, mapping={"state": "not_ready", "reason": "logged in",
                                 "since": self.now(), "name": name or agent_id,
                                 "sip_uri": sip_uri, "call": "",
                                 "auto_accept": "1" if auto_accept else ""})
            p.delete(f"{key}:skills")
            if skills := [s for s in skills if s]:
                p.sadd(f"{key}:skills", *skills)
            p.zrem(self._k("ready"), agent_id)
            p.execute()
        self.publish("agent", agent=agent_id, state="not_ready", reason="logged in")

    def logout(self, agent_id: str) -> None:
        self._require(agent_id, {"not_ready", "ready", "wrap_up"}, "log out")
        self._set(agent_id, "offline", "", ready=False)

    def ready(self, agent_id: str) -> None:
        """Ready for the next call; the idle clock starts now."""
        if self._require(agent_id, {"not_ready", "wrap_up", "ready"}, "go ready") == "ready":
            return  # already waiting: keep their place in the line
        self._set(agent_id, "ready", "", ready=True)

    def not_ready(self, agent_id: str, reason: str) -> None:
        if reason not in NOT_READY_REASONS:
            raise AcdError(f"not-ready reason {reason!r}; one of {', '.join(NOT_READY_REASONS)}")
        self._require(agent_id, {"ready", "not_ready", "wrap_up"}, "go not ready")
        self._set(agent_id, "not_ready", reason, ready=False)

    def accept(self, agent_id: str, call_id: str) -> None:
        """The agent takes the call offered to them."""
        self._require_offer(agent_id, call_id)
        now = self.now()
        with self.r.pipeline() as p:
            p.hset(self._agent(agent_id), mapping={"state": "on_call", "since": now})
            p.hset(self._call(call_id), mapping={"state": "connected", "connected_at": now})
            p.hincrby(self._k(f"stats:{self.r.hget(self._call(call_id), 'queue')}"),
                      "accepted", 1)
            p.execute()
        self.publish("accepted", call=call_id, agent=agent_id)

    def reject(self, agent_id: str, call_id: str, missed: bool = False) -> None:
        """The agent turns the offer down (or let it ring out): the call goes back to the
        front of its queue, the agent becomes not ready so the next offer goes elsewhere."""
        self._require_offer(agent_id, call_id)
        call = self.r.hgetall(self._call(call_id))
        with self.r.pipeline() as p:
            p.hset(self._call(call_id), mapping={"state": "waiting", "agent": ""})
            p.zadd(self._k(f"queue:{call['queue']}"), {call_id: float(call["queued_at"])})
            p.sadd(self._k("queues"), call["queue"])
            p.execute()
        self._set(agent_id, "not_ready", "missed offer" if missed else "rejected offer",
                  ready=False)

    def connect_failed(self, agent_id: str, call_id: str) -> None:
        """The agent took the call but their phone did not answer: the call goes back to
        the front of its queue and the agent is not ready until they say otherwise."""
        call = self.r.hgetall(self._call(call_id))
        if call and call.get("state") in ("connected", "offered"):
            with self.r.pipeline() as p:
                p.hset(self._call(call_id), mapping={"state": "waiting", "agent": ""})
                p.zadd(self._k(f"queue:{call['queue']}"), {call_id: float(call["queued_at"])})
                p.sadd(self._k("queues"), call["queue"])
                p.execute()
        if self.r.hget(self._agent(agent_id), "call") == call_id:
            self._set(agent_id, "not_ready", "missed offer", ready=False)

    def hang_up(self, agent_id: str) -> None:
        """The agent's call ended: wrap-up (disposition form) until they go ready."""
        self._require(agent_id, {"on_call"}, "wrap up")
        call_id = self.r.hget(self._agent(agent_id), "call") or ""
        if call_id:
            self.r.hset(self._call(call_id), mapping={"state": "ended", "ended_at": self.now()})
            self.r.zrem(self._k("calls"), call_id)
        self._set(agent_id, "wrap_up", "", ready=False)
        self.r.hset(self._agent(agent_id), "call", call_id)  # the form is about this call

    def agent(self, agent_id: str) -> dict[str, Any]:
        data: dict[str, Any] = dict(self.r.hgetall(self._agent(agent_id)))
        if not data:
            raise AcdError(f"agent {agent_id!r} is not logged in")
        data["skills"] = sorted(self.r.smembers(f"{self._agent(agent_id)}:skills"))
        data["id"], data["since"] = agent_id, float(data["since"])
        data["in_state_s"] = round(self.now() - data["since"], 1)
        return data

    def agents(self) -> list[dict[str, Any]]:
        ids = sorted(k[len(self.p) + 6:] for k in self.r.scan_iter(f"{self.p}agent:*")
                     if not k.endswith(":skills"))
        return [a for a in (self.agent(i) for i in ids) if a["state"] != "offline"]

    def staffed(self, skills: Iterable[str] = ()) -> bool:
        """Is anyone logged in (in any state) who could take a call needing `skills`?
        Nobody at all: a caller is not kept waiting for the campaign's whole limit."""
        need = {s for s in skills if s}
        return any(need <= set(a["skills"]) for a in self.agents())

    # -- calls ----------------------------------------------------------------------
    def enqueue(self, call_id: str, queue: str, *, skills: Iterable[str] = (),
                prefer: str | None = None, info: dict[str, Any] | None = None) -> int:
        """Queue an escalated call; its position (1 = next)."""
        now = self.now()
        with self.r.pipeline() as p:
            p.hset(self._call(call_id), mapping={
                "queue": queue, "skills": ",".join(s for s in skills if s), "queued_at": now,
                "state": "waiting", "agent": "", "prefer": prefer or "",
                "info": json.dumps(info or {}, ensure_ascii=False)})
            p.zadd(self._k(f"queue:{queue}"), {call_id: now})
            p.zadd(self._k("calls"), {call_id: now})
            p.sadd(self._k("queues"), queue)
            p.execute()
        return self.position(call_id) or 0

    def route(self) -> list[Offer]:
        """Offer every waiting call that a ready agent can take, oldest call first over all
        queues. Safe to run on several hosts at once."""
        waiting: list[tuple[float, str, str]] = []
        for queue in self.r.smembers(self._k("queues")):
            for call_id, at in self.r.zrange(self._k(f"queue:{queue}"), 0, -1, withscores=True):
                waiting.append((at, str(queue), str(call_id)))
        offers = []
        for at, queue, call_id in sorted(waiting):
            if not self.r.zcard(self._k("ready")):
                break
            call = self.r.hgetall(self._call(call_id))
            if not call:
                continue
            skills = [s for s in call.get("skills", "").split(",") if s]
            agent = self._route(keys=[self._k("ready"), self._k(f"queue:{queue}"),
                                      self._call(call_id)],
                                args=[self.p, call_id, self.now(), call.get("prefer", ""),
                                      *skills])
            if agent:
                offers.append(Offer(call_id, str(agent), queue, round(self.now() - at, 3)))
                self.publish("offered", call=call_id, agent=str(agent), queue=queue)
        return offers

    def abandon(self, call_id: str) -> None:
        """The caller is gone (or a callback was scheduled instead) before an agent."""
        call = self.r.hgetall(self._call(call_id))
        if not call:
            return
        with self.r.pipeline() as p:
            p.zrem(self._k(f"queue:{call['queue']}"), call_id)
            p.zrem(self._k("calls"), call_id)
            p.hset(self._call(call_id), mapping={"state": "abandoned", "ended_at": self.now()})
            if call.get("state") != "abandoned":
                p.hincrby(self._k(f"stats:{call['queue']}"), "abandoned", 1)
            p.execute()
        agent = call.get("agent")
        if call.get("state") in ("offered", "connected") and agent \
                and self.r.hget(self._agent(agent), "call") == call_id:
            self._set(agent, "ready", "", ready=True)

    def stats(self, queue: str) -> dict[str, int]:
        """Counters of a queue since Redis started: accepted and abandoned calls."""
        return {k: int(v) for k, v in self.r.hgetall(self._k(f"stats:{queue}")).items()}

    def position(self, call_id: str) -> int | None:
        """1 for the next call of its queue; None when it is not waiting."""
        queue = self.r.hget(self._call(call_id), "queue")
        rank = self.r.zrank(self._k(f"queue:{queue}"), call_id) if queue else None
        return None if rank is None else int(rank) + 1

    def call(self, call_id: str) -> dict[str, Any]:
        data: dict[str, Any] = dict(self.r.hgetall(self._call(call_id)))
        if not data:
            raise AcdError(f"no call {call_id!r} in the queues")
        data["info"] = json.loads(data.get("info") or "{}")
        data["id"], data["position"] = call_id, self.position(call_id)
        data["waited_s"] = round(self.now() - float(data["queued_at"]), 1)
        return data

    def live_calls(self) -> list[dict[str, Any]]:
        """Every handed-off call not yet ended (waiting, offered or with an agent),
        oldest first: the consoles' list and the supervisor's view."""
        out = []
        for c in self.r.zrange(self._k("calls"), 0, -1):
            try:
                out.append(self.call(str(c)))
            except AcdError:  # expired under us
                self.r.zrem(self._k("calls"), c)
        return out

    # -- the screen pop's transcript and the consoles' events ----------------------------
    def add_transcript(self, call_id: str, turn: dict[str, Any]) -> None:
        """Append a turn to the call's transcript and push it to the consoles."""
        line = json.dumps(turn, ensure_ascii=False)
        with self.r.pipeline() as p:
            p.rpush(self._k(f"call:{call_id}:transcript"), line)
            p.expire(self._k(f"call:{call_id}:transcript"), 86400)
            p.execute()
        self.publish("transcript", call=call_id, turn=turn)

    def transcript(self, call_id: str) -> list[dict[str, Any]]:
        return [json.loads(x) for x in self.r.lrange(self._k(f"call:{call_id}:transcript"),
                                                      0, -1)]

    def command(self, call_id: str, command: dict[str, Any]) -> None:
        """Ask the worker carrying a live call to do something (a supervisor's listen,
        whisper or barge); it picks commands up within half a second. Supervisors hear
        of it on their own channel; the agents' never carries it."""
        key = self._k(f"call:{call_id}:commands")
        with self.r.pipeline() as p:
            p.rpush(key, json.dumps(command, ensure_ascii=False))
            p.expire(key, 3600)
            p.execute()
        self.publish("command", call=call_id, **command)

    def next_command(self, call_id: str) -> dict[str, Any] | None:
        raw = self.r.lpop(self._k(f"call:{call_id}:commands"))
        return None if raw is None else dict(json.loads(raw))

    def publish(self, kind: str, **data: Any) -> None:
        """Tell the consoles; monitor events go to the supervisors' channel only."""
        channel = "floor" if kind in MONITOR_EVENTS else "events"
        self.r.publish(self._k(channel), json.dumps({"type": kind, "at": self.now(), **data},
                                                    ensure_ascii=False))

    def channels(self, *, supervisors: bool = False) -> list[str]:
        """What a console subscribes to: supervisors hear the monitor events too."""
        return [self._k("events"), *([self._k("floor")] if supervisors else [])]

    def subscribe(self, *, supervisors: bool = False) -> Any:
        """A redis PubSub on the consoles' channels (get_message() / listen())."""
        ps = self.r.pubsub(ignore_subscribe_messages=True)
        ps.subscribe(*self.channels(supervisors=supervisors))
        return ps

    def agent_key(self, agent_id: str) -> str:
        """The agent's hash; its `call` is the call offered to them, taken or wrapped up."""
        return self._agent(agent_id)

    def queue(self, name: str) -> list[dict[str, Any]]:
        """The calls waiting in one queue, next first, with how long each has waited."""
        return [self.call(str(c)) for c in self.r.zrange(self._k(f"queue:{name}"), 0, -1)]

    # -- plumbing -------------------------------------------------------------------
    def _k(self, name: str) -> str:
        return f"{self.p}{name}"

    def _agent(self, agent_id: str) -> str:
        return self._k(f"agent:{agent_id}")

    def _call(self, call_id: str) -> str:
        return self._k(f"call:{call_id}")

    def _set(self, agent_id: str, state: str, reason: str, *, ready: bool) -> None:
        now = self.now()
        with self.r.pipeline() as p:
            p.hset(self._agent(agent_id), mapping={"state": state, "reason": reason,
                                                   "since": now, "call": ""})
            if ready:
                p.zadd(self._k("ready"), {agent_id: now})
            else:
                p.zrem(self._k("ready"), agent_id)
            p.execute()
        self.publish("agent", agent=agent_id, state=state, reason=reason)

    def _require(self, agent_id: str, allowed: set[str], what: str) -> str:
        state = self.r.hget(self._agent(agent_id), "state")
        if state is None:
            raise AcdError(f"agent {agent_id!r} is not logged in")
        if state not in allowed:
            raise AcdError(f"agent {agent_id!r} is {state} and cannot {what}")
        return str(state)

    def _require_offer(self, agent_id: str, call_id: str) -> None:
        self._require(agent_id, {"offered"}, "answer an offer")
        if self.r.hget(self._agent(agent_id), "call") != call_id:
            raise AcdError(f"call {call_id!r} is not offered to agent {agent_id!r}")


def event_for_agent(event: dict[str, Any], agent_id: str,
                    current_call: str | None) -> dict[str, Any] | None:
    """What an agent's console may receive of an ACD event: the whole event when it is
    about them or the call offered to them (`current_call`, from their hash); a bare
    "queue" nudge (refresh the waiting count) for any other change on the floor; nothing
    for another call's transcript (too chatty to nudge for) or for a monitor event."""
    kind = event.get("type")
    if kind in MONITOR_EVENTS or "monitor" in event:
        return None
    if event.get("agent") == agent_id or (current_call and event.get("call") == current_call):
        return event
    if kind == "transcript":
        return None
    return {"type": "queue", "at": event.get("at")}
