"""Probe (own process: one pjsua2 Endpoint each) for the call-object lifetime rule.

Places calls to a simulator until pjsua has reused every call slot, keeps the finished
call objects, then drops them all (and collects) while a newer call is live. Prints one
JSON line: whether the live call survived, and what the audio-port pool did.

    python tests/support/sip_lifetime_probe.py 127.0.0.1:5070 +821099990002 42600
"""

from __future__ import annotations

import gc
import json
import sys
import time

from dialer.telephony.call import SipCall
from dialer.telephony.sip import UserAgent
from dialer.telephony.trunk import TrunkConfig


def wait_state(call: SipCall, state: str, timeout: float = 10.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if call.state == state:
            return True
        if call.disconnected.is_set() and state != "DISCONNECTED":
            return False
        time.sleep(0.02)
    return False


def main() -> int:
    target, number, rtp = sys.argv[1], sys.argv[2], int(sys.argv[3])
    ua = UserAgent(rtp_port=rtp, rtp_range=100)
    acc = ua.account(TrunkConfig(host=target))
    uri = f"sip:{number}@{target}"
    finished: list[SipCall] = []
    slots: list[int] = []
    for _ in range(5):  # the wheel has 4 call slots: the fifth call reuses one
        call = ua.make_call(acc, uri)
        slots.append(call.getId())
        assert wait_state(call, "CONFIRMED"), f"call {len(finished) + 1} not answered"
        call.hangup_quietly()
        assert call.disconnected.wait(5)
        call.release()
        finished.append(call)
        time.sleep(ua.PIPE_COOL_DOWN_S + 0.1)  # so the next call may reuse the port
    live = ua.make_call(acc, uri)
    live_slot = live.getId()
    answered = wait_state(live, "CONFIRMED")
    finished.clear()  # the old objects go now, one of them with the live call's slot
    gc.collect()
    time.sleep(1.5)
    result = {"slots": slots, "live_slot": live_slot, "answered": answered,
              "live_state_after_drop": live.state,
              "live_disconnected": live.disconnected.is_set(),
              "audio_ports": ua.audio_ports, "live_calls_tracked": len(ua.live_calls)}
    live.hangup_quietly()
    live.disconnected.wait(5)
    live.release()
    result["live_calls_after_end"] = len(ua.live_calls)
    ua.shutdown()
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
