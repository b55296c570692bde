"""A SIPp callee farm on 127.0.0.1: one SIPp process answering many calls at once, each
a callee who picks up (180, then 200 with PCMU), keeps the line alive with RTP (a
silent one: noise is issue 19's subject, not these faults') and stays until the robot
hangs up. Calls
whose caller vanished (a worker killed -9 sends no BYE) end on SIPp's side after
`hold_s` without one. Every message SIPp saw is in its message trace, so a test can
tell from the callee's side which numbers were called when."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from tests.support.sipp import SippUas, _free_media_port, _free_udp_port, _wait_bound

FARM_SCENARIO = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<!-- A callee farm: ring briefly, answer with PCMU, stream a quiet line until BYE. -->
<scenario name="callee farm">
  <recv request="INVITE" crlf="true"/>
  <send>
    <![CDATA[

      SIP/2.0 180 Ringing
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]farm[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>
      Content-Length: 0

    ]]>
  </send>
  <pause milliseconds="RING_MS"/>
  <send retrans="500">
    <![CDATA[

      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]farm[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=farm 1 1 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [auto_media_port] RTP/AVP 0
      a=rtpmap:0 PCMU/8000

    ]]>
  </send>
  <recv request="ACK" crlf="true">
    <action>
      <exec rtp_stream="LINE_WAV,-1,0"/>
    </action>
  </recv>
  <recv request="BYE" timeout="HOLD_MS" ontimeout="gone"/>
  <send>
    <![CDATA[

      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>
      Content-Length: 0

    ]]>
  </send>
  <timewait milliseconds="500"/>
  <label id="gone"/>
</scenario>
"""


@dataclass
class Invite:
    at: datetime
    number: str
    call_id: str


@dataclass
class Farm:
    uas: SippUas

    @property
    def target(self) -> str:
        return self.uas.target

    def invites(self) -> list[Invite]:
        """Every INVITE the farm received (retransmissions once), in order."""
        seen: dict[str, Invite] = {}
        for block in re.split(r"\n(?=-{10,} )", self.uas.messages()):
            stamp = re.match(r"-{10,} (\S+ \S+)\s*\n\w+ message received", block)
            head = re.search(r"^INVITE sip:(\+?\d+)@", block, re.MULTILINE)
            call = re.search(r"^Call-ID:\s*(\S+)", block, re.MULTILINE | re.IGNORECASE)
            if stamp and head and call and call.group(1) not in seen:
                at = datetime.strptime(stamp.group(1), "%Y-%m-%d %H:%M:%S.%f")
                seen[call.group(1)] = Invite(at, head.group(1), call.group(1))
        return list(seen.values())


def quiet_line(path: Path) -> Path:
    """Two seconds of silence, PCMU at 8 kHz."""
    if not path.exists():
        subprocess.run(["sox", "-n", "-r", "8000", "-c", "1", "-e", "u-law", str(path),
                        "trim", "0", "2"], check=True, timeout=30)
    return path


@contextmanager
def sipp_farm(workdir: Path, calls: int = 1000, ring_ms: int = 300, hold_s: int = 120,
              timeout_s: int = 900) -> Iterator[Farm]:
    exe = shutil.which("sipp")
    if exe is None:
        raise RuntimeError("sipp is not installed (apt-get install sip-tester)")
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    port = _free_udp_port()
    line = quiet_line(workdir / "silent-line.wav")
    scenario = workdir / "farm.xml"
    scenario.write_text(FARM_SCENARIO.replace("RING_MS", str(ring_ms))
                        .replace("HOLD_MS", str(hold_s * 1000)).replace("LINE_WAV", str(line)))
    stat_file = workdir / f"sipp-farm-{port}.csv"
    message_file = workdir / f"sipp-farm-{port}-messages.log"
    log_path = workdir / f"sipp-farm-{port}.log"
    cmd = [exe, "-sf", str(scenario), "-i", "127.0.0.1", "-p", str(port),
           "-mi", "127.0.0.1", "-mp", str(_free_media_port()), "-m", str(calls),
           "-l", "200", "-nostdin", "-timeout", f"{timeout_s}s", "-trace_stat", "-stf",
           str(stat_file), "-fd", "1", "-trace_msg", "-message_file", str(message_file),
           "-trace_err", "-error_file", str(workdir / f"sipp-farm-{port}-errors.log")]
    with log_path.open("ab") as log:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, cwd=workdir, start_new_session=True)
    uas = SippUas(port=port, proc=proc, stat_file=stat_file, message_file=message_file,
                  log_path=log_path, command=cmd)
    try:
        _wait_bound(uas, 10.0)
        yield Farm(uas)
    finally:
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)
            except ProcessLookupError:
                pass
