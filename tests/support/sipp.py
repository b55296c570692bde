"""SIPp as a scripted UAS on 127.0.0.1, for tests.

SIPp's built-in ``uas`` scenario does not copy Record-Route into its replies, so
the caller would send ACK/BYE straight to SIPp and bypass the proxy under test.
The scenario written here answers with the Record-Route set, keeping the whole
dialog on the proxy.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

UAS_SCENARIO = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<!-- Answering UAS for tests: 180, 200 with SDP, ACK, BYE, 200. -->
<scenario name="test answering UAS">
  <recv request="INVITE" crlf="true"/>

  <send>
    <![CDATA[

      SIP/2.0 180 Ringing
      [last_Via:]
      [last_Record-Route:]
      [last_From:]
      [last_To:];tag=[pid]uas[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>
      Content-Length: 0

    ]]>
  </send>

  <send retrans="500">
    <![CDATA[

      SIP/2.0 200 OK
      [last_Via:]
      [last_Record-Route:]
      [last_From:]
      [last_To:];tag=[pid]uas[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=uas 1 1 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0
      a=rtpmap:0 PCMU/8000

    ]]>
  </send>

  <recv request="ACK" rtd="true" crlf="true"/>

  <recv request="BYE"/>

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
</scenario>
"""


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _free_media_port() -> int:
    """An even port p with p..p+3 free (SIPp binds audio and video RTP/RTCP there)."""
    for _ in range(50):
        p = _free_udp_port() & ~1
        socks = []
        try:
            for q in range(p, p + 4):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                socks.append(s)
                s.bind(("127.0.0.1", q))
            return p
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free media port range")


@dataclass
class SippUas:
    port: int
    proc: subprocess.Popen[bytes]
    stat_file: Path
    message_file: Path
    log_path: Path
    command: list[str]

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def wait(self, timeout: float) -> int:
        """Wait for SIPp to finish its calls (-m); return its exit code (0: all calls ok)."""
        return self.proc.wait(timeout)

    def stats(self) -> dict[str, str]:
        """The last row of SIPp's statistics CSV, keyed by column name."""
        lines = [ln for ln in self.stat_file.read_text(errors="replace").splitlines() if ln]
        header = lines[0].split(";")
        return dict(zip(header, lines[-1].split(";"), strict=False))

    def successful_calls(self) -> int:
        return int(self.stats()["SuccessfulCall(C)"])

    def failed_calls(self) -> int:
        return int(self.stats()["FailedCall(C)"])

    def failures(self) -> dict[str, int]:
        """SIPp's non-zero failure counters over the whole run (unexpected message, timeout
        on a recv, max UDP retransmissions...), e.g. {"FailedUnexpectedMessage": 1}."""
        out = {}
        for key, value in self.stats().items():
            if key.startswith("Failed") and key.endswith("(C)") and value.strip() not in ("", "0"):
                out[key.removesuffix("(C)")] = int(value)
        return out

    def received(self) -> list[str]:
        """The SIP messages SIPp received, in order (its message trace)."""
        blocks = re.split(r"^-{20,}.*$", self.messages(), flags=re.MULTILINE)
        return [b.split(":\n", 1)[1].strip() for b in blocks
                if " message received " in b and ":\n" in b]

    def requests(self, method: str) -> int:
        """How many `method` requests SIPp received, retransmissions included."""
        return sum(1 for m in self.received() if m.startswith(f"{method} sip:"))

    def messages(self) -> str:
        try:
            return self.message_file.read_text(errors="replace")
        except FileNotFoundError:
            return ""


def _port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def _wait_bound(uas: SippUas, timeout: float) -> None:
    """Wait until SIPp has bound its SIP port (so the first INVITE is not lost)."""
    end = time.monotonic() + timeout
    while not _port_in_use(uas.port):
        if uas.proc.poll() is not None:
            raise RuntimeError(f"sipp exited with {uas.proc.returncode}: "
                               f"{uas.log_path.read_text(errors='replace')[-3000:]}")
        if time.monotonic() > end:
            raise TimeoutError(f"sipp did not bind 127.0.0.1:{uas.port} in {timeout}s")
        time.sleep(0.05)


@contextmanager
def sipp_uas(workdir: Path, port: int | None = None, calls: int = 1,
             timeout_s: int = 25, scenario_xml: str = UAS_SCENARIO,
             extra_args: tuple[str, ...] = ()) -> Iterator[SippUas]:
    """Run SIPp as a UAS on 127.0.0.1:port playing ``scenario_xml`` (by default: answer)
    for ``calls`` calls, then exiting; ``extra_args`` go on its command line.

    SIPp quits (with a failure code) after ``timeout_s`` seconds in any case; it is
    killed when the block exits.
    """
    exe = shutil.which("sipp")
    if exe is None:
        raise RuntimeError("sipp is not installed (apt-get install sip-tester)")
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    port = port or _free_udp_port()
    scenario = workdir / "uas.xml"
    scenario.write_text(scenario_xml)
    stat_file = workdir / f"sipp-uas-{port}.csv"
    message_file = workdir / f"sipp-uas-{port}-messages.log"
    log_path = workdir / f"sipp-uas-{port}.log"
    cmd = [exe, "-sf", str(scenario), "-i", "127.0.0.1", "-p", str(port),
           "-mi", "127.0.0.1", "-mp", str(_free_media_port()),
           "-m", str(calls), "-nostdin", "-timeout", f"{timeout_s}s", "-timeout_error",
           "-trace_stat", "-stf", str(stat_file), "-fd", "1",
           "-trace_msg", "-message_file", str(message_file),
           "-trace_err", "-error_file", str(workdir / f"sipp-uas-{port}-errors.log"),
           *extra_args]
    with log_path.open("ab") as log:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, cwd=workdir, start_new_session=True)
    uas = SippUas(port=port, proc=proc, stat_file=stat_file, message_file=message_file,
                  log_path=log_path, command=cmd)
    try:
        _wait_bound(uas, 10.0)
        yield uas
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
