"""A tiny pjsua2 user agent, run as its own process by tests.

pjsua2 allows one Endpoint per process and re-creating it after libDestroy() is
not reliable, so every test runs this script in a fresh interpreter:

    python tests/support/pjsua_agent.py --registrar 127.0.0.1:5060 --user robot \
        --password s3cret [--call sip:+821012345678@127.0.0.1:5060 --hold 0.5]

It registers, optionally places one call (waits for CONFIRMED, holds, hangs up),
and prints one line ``RESULT {json}`` on stdout.  Events are handled on the main
thread (threadCnt=0 + libHandleEvents), so the Python callbacks never run on a
pjsua worker thread.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import time
from typing import Any

import pjsua2 as pj

RESULT_PREFIX = "RESULT "


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Account(pj.Account):
    def __init__(self) -> None:
        super().__init__()
        self.reg_events: list[dict[str, Any]] = []

    def onRegState(self, prm: pj.OnRegStateParam) -> None:
        self.reg_events.append({"code": int(prm.code), "reason": str(prm.reason),
                                "expiration": int(prm.expiration)})


class Call(pj.Call):
    def __init__(self, acc: pj.Account) -> None:
        super().__init__(acc)
        self.states: list[dict[str, Any]] = []

    def onCallState(self, prm: pj.OnCallStateParam) -> None:
        ci = self.getInfo()
        self.states.append({"state": int(ci.state), "name": str(ci.stateText),
                            "code": int(ci.lastStatusCode), "reason": str(ci.lastReason)})

    def state(self) -> int:
        return self.states[-1]["state"] if self.states else -1


def pump(ep: pj.Endpoint, until: Any, timeout: float) -> bool:
    """Handle pjsua events on this thread until ``until()`` is true or timeout."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if until():
            return True
        ep.libHandleEvents(20)
    return bool(until())


def run(args: argparse.Namespace) -> dict[str, Any]:
    result: dict[str, Any] = {"registration": None, "call": None}
    ep = pj.Endpoint()
    ep.libCreate()
    try:
        cfg = pj.EpConfig()
        cfg.uaConfig.maxCalls = 4
        cfg.uaConfig.threadCnt = 0  # no pjsua worker thread: we poll below
        cfg.uaConfig.mainThreadOnly = True
        cfg.uaConfig.userAgent = "robot-test-agent"
        cfg.logConfig.level = 5 if args.log else 1
        cfg.logConfig.consoleLevel = 0 if args.log else 1
        if args.log:
            cfg.logConfig.filename = args.log
        ep.libInit(cfg)
        ep.audDevManager().setNullDev()

        tcfg = pj.TransportConfig()
        tcfg.port = args.local_port or free_udp_port()
        tcfg.boundAddress = "127.0.0.1"
        ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, tcfg)
        ep.libStart()
        result["local_port"] = tcfg.port
        # The Account and Call objects live only inside session(): they are gone
        # before libDestroy() (pjsua2 objects must not outlive the library).
        session(ep, args, result)
    finally:
        ep.libDestroy()
    return result


def session(ep: pj.Endpoint, args: argparse.Namespace, result: dict[str, Any]) -> None:
    acfg = pj.AccountConfig()
    acfg.idUri = f"sip:{args.user}@{args.domain}"
    acfg.regConfig.registrarUri = f"sip:{args.registrar}"
    acfg.regConfig.timeoutSec = 300
    acfg.sipConfig.authCreds.append(pj.AuthCredInfo("digest", "*", args.user, 0, args.password))
    acc = Account()
    acc.create(acfg)
    try:
        pump(ep, lambda: bool(acc.reg_events), args.timeout)
        result["registration"] = {"events": acc.reg_events,
                                  "code": acc.reg_events[-1]["code"] if acc.reg_events else None}
        registered = bool(acc.reg_events) and 200 <= acc.reg_events[-1]["code"] < 300

        if args.wait_file and registered:
            # Tell the parent we are registered, and stay so until it creates the file.
            sys.stdout.write("REGISTERED\n")
            sys.stdout.flush()
            pump(ep, lambda: os.path.exists(args.wait_file), args.timeout)

        if args.call and registered:
            result["call"] = place_call(ep, acc, args)

        if args.unregister and registered:
            n = len(acc.reg_events)
            acc.setRegistration(False)
            pump(ep, lambda: len(acc.reg_events) > n, args.timeout)
            result["unregistration"] = acc.reg_events[n:]
    finally:
        ep.hangupAllCalls()
        pump(ep, lambda: False, 0.1)
        acc.shutdown()


def place_call(ep: pj.Endpoint, acc: Account, args: argparse.Namespace) -> dict[str, Any]:
    call = Call(acc)
    call.makeCall(args.call, pj.CallOpParam(True))
    confirmed = pump(ep, lambda: call.state() in (pj.PJSIP_INV_STATE_CONFIRMED,
                                                  pj.PJSIP_INV_STATE_DISCONNECTED), args.timeout)
    confirmed = confirmed and call.state() == pj.PJSIP_INV_STATE_CONFIRMED
    if confirmed:
        pump(ep, lambda: False, args.hold)
    if call.state() != pj.PJSIP_INV_STATE_DISCONNECTED:
        call.hangup(pj.CallOpParam(True))
    disconnected = pump(ep, lambda: call.state() == pj.PJSIP_INV_STATE_DISCONNECTED,
                        args.timeout)
    return {"states": call.states, "confirmed": confirmed, "disconnected": disconnected,
            "connect_code": next((s["code"] for s in call.states
                                  if s["state"] == pj.PJSIP_INV_STATE_CONFIRMED), None)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--registrar", required=True, help="host:port of the registrar")
    p.add_argument("--user", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--domain", default="127.0.0.1", help="domain of the account's idUri")
    p.add_argument("--call", help="SIP URI to call once registered")
    p.add_argument("--hold", type=float, default=0.5, help="seconds to stay in the call")
    p.add_argument("--unregister", action="store_true")
    p.add_argument("--local-port", type=int, default=0)
    p.add_argument("--timeout", type=float, default=10.0, help="per-step timeout (s)")
    p.add_argument("--wait-file", help="once registered, print REGISTERED and stay "
                   "registered until this file exists (max --timeout s)")
    p.add_argument("--log", help="write a pjsua log (level 5) to this file")
    args = p.parse_args(argv)
    result = run(args)
    sys.stdout.write(RESULT_PREFIX + json.dumps(result) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
