"""A SIP trunk's settings as the user agent needs them: plain data, no pjsua2, so the
web app and the settings can name a trunk without loading the SIP stack."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TrunkConfig:
    """Where calls go and how we authenticate; defaults dial a loopback peer directly."""

    host: str = "127.0.0.1:5070"  # host[:port] put in the request URI: sip:<number>@host
    registrar: str | None = None  # e.g. "sip:pbx.example.com"; None = no REGISTER
    username: str | None = None
    password: str | None = None
    realm: str = "*"
    outbound_proxy: str | None = None  # e.g. "sip:proxy.example.com;lr"
    caller_id: str | None = None  # user part of From, e.g. "+8215880000"
    display_name: str | None = None
    transport: str = "udp"

    def dial_uri(self, number: str) -> str:
        if number.startswith("sip:"):
            return number
        params = ";transport=tcp" if self.transport == "tcp" else ""
        return f"sip:{number}@{self.host}{params}"

    def id_uri(self, local_host: str) -> str:
        user = self.caller_id or self.username or "robot"
        domain = self.registrar.removeprefix("sip:") if self.registrar else local_host
        uri = f"sip:{user}@{domain}"
        return f'"{self.display_name}" <{uri}>' if self.display_name else uri
