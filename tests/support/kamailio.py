"""A real Kamailio on 127.0.0.1 playing our SIP trunk, for tests.

The trunk is a registrar (digest auth, in-memory usrloc) and a proxy that demands
proxy digest auth for initial INVITEs and forwards them, record-routed, to one
target UAS (the customer simulator, which is not registered).  Everything listens
on 127.0.0.1 only; the config is generated from the template below.

Every decision the script takes is logged as one line starting with ``TRUNK`` so
tests can assert on it, e.g.::

    TRUNK REGISTER-CHALLENGE 401 ...
    TRUNK REGISTER-OK aor=sip:robot@127.0.0.1 contact=<...> ...
    TRUNK REGISTER-FORBIDDEN 403 rc=-2 ...
    TRUNK INVITE-CHALLENGE 407 ...
    TRUNK INVITE-RELAY from=... ruri=sip:+8210...@127.0.0.1:5070 ...
    TRUNK REPLY 200 OK cseq=... INVITE ...
    TRUNK IN-DIALOG BYE ...
    TRUNK IN-DIALOG REFER ...          (a blind transfer, relayed to the customer side)
    TRUNK INVITE-TRANSFERRED ...       (the transferred customer calling the agent)
"""

from __future__ import annotations

import glob
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

KAMAILIO = "kamailio"
KAMCMD = "kamcmd"
# Max length of an AF_UNIX socket path (sun_path is 108 bytes including the NUL).
_UNIX_PATH_MAX = 100


@dataclass
class KamailioTrunk:
    host: str
    port: int
    realm: str
    username: str
    password: str
    target: str
    log_path: Path
    ctl_socket: Path | None = None
    pid: int | None = None
    cfg_path: Path | None = None
    command: list[str] = field(default_factory=list)

    @property
    def uri(self) -> str:
        """SIP URI of the trunk itself (registrar / outbound proxy)."""
        return f"sip:{self.host}:{self.port}"

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def trunk_lines(self, event: str | None = None) -> list[str]:
        """The ``TRUNK ...`` lines logged so far, optionally only those of one event."""
        out = []
        for line in self.log_text().splitlines():
            idx = line.find("TRUNK ")
            if idx < 0:
                continue
            msg = line[idx:]
            if event is None or msg.split()[1] == event:
                out.append(msg)
        return out

    def wait_for_log(self, needle: str, timeout: float = 10.0) -> str:
        """Wait until ``needle`` appears in the log; return the first line containing it."""
        end = time.monotonic() + timeout
        while True:
            for line in self.log_text().splitlines():
                if needle in line:
                    return line
            if time.monotonic() >= end:
                raise TimeoutError(f"{needle!r} not logged by kamailio within {timeout}s")
            time.sleep(0.05)

    def registered_contacts(self) -> list[str]:
        """Contact URIs currently in the usrloc 'location' table (asked over kamcmd)."""
        kamcmd = shutil.which(KAMCMD)
        if kamcmd is None or self.ctl_socket is None:
            return self._contacts_from_log()
        res = subprocess.run([kamcmd, "-s", f"unix:{self.ctl_socket}", "ul.dump"],
                             check=False, capture_output=True, text=True, timeout=10)
        if res.returncode != 0:
            raise RuntimeError(f"kamcmd ul.dump failed: {res.stdout}{res.stderr}")
        # Each contact in the dump is printed as "Address: sip:...".
        return re.findall(r"^\s*Address:\s*(\S+)\s*$", res.stdout, re.MULTILINE)

    def _contacts_from_log(self) -> list[str]:
        contacts: dict[str, None] = {}
        for line in self.trunk_lines("REGISTER-OK"):
            m = re.search(r"contact=<?([^>\s;]+)", line)
            if not m:
                continue
            if re.search(r"expires=0\b", line):
                contacts.pop(m.group(1), None)
            else:
                contacts[m.group(1)] = None
        return list(contacts)


def module_dir() -> str:
    """Where the Debian package keeps the Kamailio modules."""
    try:
        out = subprocess.run([KAMAILIO, "-I"], check=False, capture_output=True,
                             text=True, timeout=10).stdout
        m = re.search(r"Default paths to modules:\s*(\S+)", out)
        if m and os.path.isfile(os.path.join(m.group(1), "tm.so")):
            return m.group(1)
    except (OSError, subprocess.SubprocessError):
        pass
    for cand in glob.glob("/usr/lib/*/kamailio/modules") + glob.glob("/usr/lib*/kamailio/modules"):
        if os.path.isfile(os.path.join(cand, "tm.so")):
            return cand
    raise RuntimeError("kamailio modules (tm.so) not found; is the kamailio package installed?")


def free_udp_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _cfg_string(value: str) -> str:
    """Quote a value as a Kamailio config string literal (double quotes)."""
    if any(c in value for c in '"\\\r\n$'):
        raise ValueError(f"unsupported character in kamailio config value: {value!r}")
    return f'"{value}"'


CFG_TEMPLATE = r"""#!KAMAILIO
# Generated by tests/support/kamailio.py: a test SIP trunk on 127.0.0.1.

debug=2
log_stderror=yes
fork=yes
children=2
auto_aliases=no
listen=udp:{host}:{port}
alias="{host}:{port}"
disable_tcp=yes
enable_tls=no
enable_sctp=no
dns=no
rev_dns=no
dns_try_ipv6=no
use_dns_cache=off
server_header="Server: test-trunk"
user_agent_header="User-Agent: test-trunk"

mpath="{mpath}"

loadmodule "kex.so"
loadmodule "corex.so"
loadmodule "tm.so"
loadmodule "tmx.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "xlog.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
loadmodule "auth.so"
loadmodule "ctl.so"

modparam("ctl", "binrpc", "unix:{ctl_socket}")
modparam("usrloc", "db_mode", 0)
modparam("registrar", "max_expires", 3600)
modparam("registrar", "min_expires", 10)
modparam("auth", "secret", {secret})
modparam("tm", "fr_timer", 10000)
modparam("tm", "fr_inv_timer", 60000)

request_route {{
    if (!mf_process_maxfwd_header("10")) {{
        sl_send_reply("483", "Too Many Hops");
        exit;
    }}

    # Keepalive / readiness probe: OPTIONS addressed to the trunk itself.
    if (is_method("OPTIONS") && uri == myself && $rU == $null) {{
        sl_send_reply("200", "OK");
        exit;
    }}

    if (has_totag()) {{
        route(WITHINDLG);
        exit;
    }}

    if (is_method("CANCEL")) {{
        if (t_check_trans()) {{
            xlog("L_NOTICE", "TRUNK CANCEL call-id=$ci\n");
            route(RELAY);
        }}
        exit;
    }}

    if (is_method("ACK")) {{
        # An ACK without to-tag that belongs to no transaction: drop it.
        if (t_check_trans()) {{
            route(RELAY);
        }}
        exit;
    }}

    # Retransmission of a request already being handled: tm re-sends the reply.
    t_check_trans();

    if (is_method("REGISTER")) {{
        route(REGISTRAR);
        exit;
    }}

    if (is_method("INVITE")) {{
        route(INVITE);
        exit;
    }}

    xlog("L_NOTICE", "TRUNK REJECT 405 method=$rm from=$fu call-id=$ci\n");
    sl_send_reply("405", "Method Not Allowed");
    exit;
}}

route[WITHINDLG] {{
    if (loose_route()) {{
        xlog("L_NOTICE", "TRUNK IN-DIALOG $rm ruri=$ru call-id=$ci\n");
        if (is_method("INVITE")) {{
            record_route();
        }}
        route(RELAY);
        exit;
    }}
    if (is_method("ACK")) {{
        # ACK for a negative reply to a relayed INVITE: tm absorbs it.
        if (t_check_trans()) {{
            route(RELAY);
        }}
        exit;
    }}
    xlog("L_NOTICE", "TRUNK IN-DIALOG-REJECT 404 $rm ruri=$ru call-id=$ci\n");
    sl_send_reply("404", "Not here");
    exit;
}}

route[REGISTRAR] {{
    pv_www_authenticate("{realm}", "{password}", "0");
    $var(rc) = $rc;
    if ($var(rc) == -2) {{
        xlog("L_NOTICE", "TRUNK REGISTER-FORBIDDEN 403 rc=$var(rc) user=$au to=$tu src=$si:$sp call-id=$ci\n");
        sl_send_reply("403", "Forbidden");
        exit;
    }}
    if ($var(rc) < 0) {{
        xlog("L_NOTICE", "TRUNK REGISTER-CHALLENGE 401 rc=$var(rc) to=$tu src=$si:$sp call-id=$ci\n");
        if ($var(rc) == -4) {{
            www_challenge("{realm}", "17");
        }} else {{
            www_challenge("{realm}", "1");
        }}
        exit;
    }}
    if (!({register_users}) || $tU != $au) {{
        xlog("L_NOTICE", "TRUNK REGISTER-FORBIDDEN 403 rc=user user=$au to=$tu src=$si:$sp call-id=$ci\n");
        sl_send_reply("403", "Forbidden");
        exit;
    }}
    consume_credentials();
    if (!save("location")) {{
        xlog("L_ERR", "TRUNK REGISTER-ERROR save failed to=$tu call-id=$ci\n");
        sl_reply_error();
        exit;
    }}
    xlog("L_NOTICE", "TRUNK REGISTER-OK aor=$tu contact=$ct expires=$hdr(Expires) src=$si:$sp call-id=$ci\n");
    exit;
}}

route[INVITE] {{
    # A call from the carrier side (the target) to an agent registered here: the
    # customer's leg of a blind transfer (REFER) coming back in. Trusted like a PSTN
    # trunk's inbound call to an extension: no digest.
    if ($si + ":" + $sp == "{target}" && registered("location")) {{
        lookup("location");
        record_route();
        xlog("L_NOTICE", "TRUNK INVITE-TRANSFERRED from=$fu ruri=$ru call-id=$ci\n");
        route(RELAY);
        exit;
    }}
    pv_proxy_authenticate("{realm}", "{password}", "0");
    $var(rc) = $rc;
    if ($var(rc) == -2) {{
        xlog("L_NOTICE", "TRUNK INVITE-FORBIDDEN 403 rc=$var(rc) user=$au from=$fu call-id=$ci\n");
        sl_send_reply("403", "Forbidden");
        exit;
    }}
    if ($var(rc) < 0) {{
        xlog("L_NOTICE", "TRUNK INVITE-CHALLENGE 407 rc=$var(rc) from=$fu ruri=$ru call-id=$ci\n");
        if ($var(rc) == -4) {{
            proxy_challenge("{realm}", "17");
        }} else {{
            proxy_challenge("{realm}", "1");
        }}
        exit;
    }}
    if ($au != "{username}") {{
        xlog("L_NOTICE", "TRUNK INVITE-FORBIDDEN 403 rc=user user=$au from=$fu call-id=$ci\n");
        sl_send_reply("403", "Forbidden");
        exit;
    }}
    if ($rU == $null) {{
        xlog("L_NOTICE", "TRUNK INVITE-REJECT 484 ruri=$ru call-id=$ci\n");
        sl_send_reply("484", "Address Incomplete");
        exit;
    }}
    consume_credentials();
    record_route();
    if (registered("location")) {{
        # An agent's phone registered here (a live-agent transfer): its contact.
        lookup("location");
        xlog("L_NOTICE", "TRUNK INVITE-AGENT from=$fu ruri=$ru call-id=$ci\n");
        route(RELAY);
        exit;
    }}
    $ru = "sip:" + $rU + "@{target}";
    xlog("L_NOTICE", "TRUNK INVITE-RELAY from=$fu ruri=$ru call-id=$ci\n");
    route(RELAY);
    exit;
}}

route[RELAY] {{
    if (is_method("INVITE|BYE|CANCEL|ACK")) {{
        t_on_reply("REPLY");
    }}
    if (!t_relay()) {{
        xlog("L_ERR", "TRUNK RELAY-ERROR $rm ruri=$ru call-id=$ci\n");
        sl_reply_error();
    }}
    exit;
}}

onreply_route[REPLY] {{
    xlog("L_NOTICE", "TRUNK REPLY $rs $rr cseq=$cs $rm call-id=$ci\n");
}}
"""


def render_config(*, host: str, port: int, realm: str, username: str, password: str,
                  target: str, ctl_socket: Path, mpath: str,
                  agents: tuple[str, ...] = ()) -> str:
    """`agents`: more users who may REGISTER (same password), e.g. agents' phones; an
    INVITE for one of them goes to where it registered instead of the target."""
    for name, value in (("realm", realm), ("username", username), ("password", password),
                        ("target", target), *(("agent", a) for a in agents)):
        if not value or any(c in value for c in '!"\\\r\n$ '):
            raise ValueError(f"unsupported {name} for the kamailio test trunk: {value!r}")
    if not re.fullmatch(r"[0-9.]+:\d+", target):
        raise ValueError(f"target must be 'ip:port', got {target!r}")
    users = " || ".join(f'$au == "{u}"' for u in (username, *agents))
    return CFG_TEMPLATE.format(host=host, port=port, realm=realm, username=username,
                               register_users=users,
                               password=password, target=target, ctl_socket=ctl_socket,
                               mpath=mpath, secret=_cfg_string(secrets.token_hex(16)))


def sip_options_ping(host: str, port: int, timeout: float = 0.5) -> int | None:
    """Send one OPTIONS to host:port over UDP; return the reply status code, or None."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        s.settimeout(timeout)
        lport = s.getsockname()[1]
        tag = secrets.token_hex(6)
        msg = (
            f"OPTIONS sip:{host}:{port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:{lport};branch=z9hG4bK{tag};rport\r\n"
            f"Max-Forwards: 70\r\n"
            f"From: <sip:probe@127.0.0.1:{lport}>;tag={tag}\r\n"
            f"To: <sip:{host}:{port}>\r\n"
            f"Call-ID: probe-{tag}@127.0.0.1\r\n"
            f"CSeq: 1 OPTIONS\r\n"
            f"Content-Length: 0\r\n\r\n"
        )
        try:
            s.sendto(msg.encode(), (host, port))
            data = s.recv(65535)
        except OSError:  # timeout, or ICMP port unreachable (ECONNREFUSED)
            return None
    m = re.match(rb"SIP/2\.0 (\d{3}) ", data)
    return int(m.group(1)) if m else None


def _stop(proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    if proc.poll() is None:
        try:
            proc.send_signal(signal.SIGTERM)  # the main process stops its children
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
    # Whatever is left of the process group (children of a killed main process).
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    if proc.poll() is None:
        proc.wait(timeout)


@contextmanager
def kamailio_trunk(workdir: Path, target: str, port: int | None = None, username: str = "robot",
                   password: str = "s3cret", realm: str = "127.0.0.1",
                   startup_timeout: float = 15.0,
                   agents: tuple[str, ...] = ()) -> Iterator[KamailioTrunk]:
    """Run Kamailio as a test SIP trunk until the block exits.

    ``target`` is "ip:port" of the UAS to which every authenticated INVITE is sent
    (as ``sip:<R-URI user>@<target>``).
    """
    exe = shutil.which(KAMAILIO)
    if exe is None:
        raise RuntimeError("kamailio is not installed (apt-get install kamailio)")
    host = "127.0.0.1"
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    port = port or free_udp_port(host)

    # The ctl socket path must fit in sockaddr_un; fall back to a short temp dir.
    short_dir: str | None = None
    ctl_socket = workdir / "kamailio_ctl"
    if len(str(ctl_socket)) > _UNIX_PATH_MAX:
        short_dir = tempfile.mkdtemp(prefix="kamctl-")
        ctl_socket = Path(short_dir) / "ctl"

    rundir = workdir / "kamailio-run"
    rundir.mkdir(exist_ok=True)
    cfg = workdir / "kamailio.cfg"
    cfg.write_text(render_config(host=host, port=port, realm=realm, username=username,
                                 password=password, target=target, ctl_socket=ctl_socket,
                                 mpath=module_dir(), agents=agents))
    log_path = workdir / "kamailio.log"
    pidfile = workdir / "kamailio.pid"
    cmd = [exe, "-f", str(cfg), "-DD", "-E", "-m", "64", "-M", "8",
           "-P", str(pidfile), "-Y", str(rundir), "-w", str(workdir)]

    trunk = KamailioTrunk(host=host, port=port, realm=realm, username=username,
                          password=password, target=target, log_path=log_path,
                          ctl_socket=ctl_socket, cfg_path=cfg, command=cmd)
    with log_path.open("ab") as log:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, cwd=workdir, start_new_session=True)
    trunk.pid = proc.pid
    try:
        end = time.monotonic() + startup_timeout
        while sip_options_ping(host, port) != 200:
            if proc.poll() is not None:
                raise RuntimeError(f"kamailio exited with {proc.returncode}:\n"
                                   f"{trunk.log_text()[-4000:]}")
            if time.monotonic() > end:
                raise TimeoutError(f"kamailio not answering OPTIONS on {host}:{port} after "
                                   f"{startup_timeout}s:\n{trunk.log_text()[-4000:]}")
            time.sleep(0.1)
        yield trunk
    finally:
        _stop(proc)
        if short_dir is not None:
            shutil.rmtree(short_dir, ignore_errors=True)
