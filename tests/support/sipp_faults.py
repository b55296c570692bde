"""SIPp UAS scenarios for trunks that do not answer the happy way: a final error at
once (no 100 Trying first) or after ringing, and silence (no response at all)."""

from __future__ import annotations

_HEAD = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="{name}">
  <recv request="INVITE" crlf="true"/>
"""

_PROVISIONAL = """  <send>
    <![CDATA[

      SIP/2.0 {code} {text}
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]fault[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

    ]]>
  </send>
"""

_FINAL = """  <send>
    <![CDATA[

      SIP/2.0 {code} {text}
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]fault[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

    ]]>
  </send>
  <recv request="ACK"/>
</scenario>
"""


def final_response(code: int, text: str, after: tuple[tuple[int, str], ...] = ()) -> str:
    """Reply `code text` to the INVITE, at once or after the provisional responses in
    `after` (e.g. ((100, "Trying"), (180, "Ringing"))), and take the ACK."""
    body = _HEAD.format(name=f"final {code}")
    for pcode, ptext in after:
        body += _PROVISIONAL.format(code=pcode, text=ptext)
        body += '  <pause milliseconds="300"/>\n'
    return body + _FINAL.format(code=code, text=text)


def no_response() -> str:
    """Take the INVITE (and its retransmissions) and never answer anything."""
    return _HEAD.format(name="no response") + """  <pause milliseconds="20000"/>
</scenario>
"""
