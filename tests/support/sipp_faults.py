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
{headers}      Content-Length: 0

    ]]>
  </send>
  <recv request="ACK"/>
</scenario>
"""


def final_response(code: int, text: str, after: tuple[tuple[int, str], ...] = (),
                   headers: tuple[str, ...] = ()) -> str:
    """Reply `code text` to the INVITE, at once or after the provisional responses in
    `after` (e.g. ((100, "Trying"), (180, "Ringing"))), with the extra `headers` (e.g.
    "Retry-After: 120"), and take the ACK."""
    body = _HEAD.format(name=f"final {code}")
    for pcode, ptext in after:
        body += _PROVISIONAL.format(code=pcode, text=ptext)
        body += '  <pause milliseconds="300"/>\n'
    extra = "".join(f"      {h}\n" for h in headers)
    return body + _FINAL.format(code=code, text=text, headers=extra)


def no_response() -> str:
    """Take the INVITE (and its retransmissions) and never answer anything."""
    return _HEAD.format(name="no response") + """  <pause milliseconds="20000"/>
</scenario>
"""


_IN_DIALOG = """  <send retrans="500">
    <![CDATA[

      {method} [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: [$local]
      To: [$remote]
      Call-ID: [$callid]
      CSeq: {cseq} {method}
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>
      Max-Forwards: 70
{headers}      Content-Length: [len]
{body}
    ]]>
  </send>
  <recv response="200" rtd="true"/>
"""

_SDP = """
      v=0
      o=callee 1 {version} IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [auto_media_port] RTP/AVP {pt}
      a=rtpmap:{pt} {codec}/8000
      a={direction}
"""

def _invite_kept(resent: bool = False) -> str:
    """Take the INVITE, keeping what the callee's own requests in its dialog need, and
    `resent`: what copies of the response to it need too. (SIPp refuses a variable set
    and never used.)"""
    keep = ["From:", "remote", "To:", "to", "Call-ID:", "callid"]
    if resent:
        keep += ["Via:", "via", "CSeq:", "invite_cseq"]
    actions = "".join(f'      <ereg regexp=".*" search_in="hdr" header="{h}" assign_to="{v}"/>\n'
                      for h, v in zip(keep[::2], keep[1::2], strict=True))
    return f"""<recv request="INVITE" crlf="true" rrs="true">
    <action>
{actions}      <assignstr assign_to="local" value="[$to];tag=[pid]fault[call_number]"/>
    </action>
  </recv>"""


def _reinvite(cseq: int, sdp: str, headers: str = "") -> str:
    """A re-INVITE from the callee with `sdp`, its 200 awaited, and its ACK."""
    return _IN_DIALOG.format(method="INVITE", cseq=cseq, body=sdp,
                             headers=headers + "      Content-Type: application/sdp\n") + f"""  <send>
    <![CDATA[

      ACK [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: [$local]
      To: [$remote]
      Call-ID: [$callid]
      CSeq: {cseq} ACK
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
"""


def answers_then(codec: str, line_wav: str, steps: tuple[str, ...],
                 early_media: bool = False) -> str:
    """Answer with one codec only (PCMU or PCMA) and a silent line, then play `steps`
    from the callee's side: "hold" (a re-INVITE with a=sendonly), "refresh" (a re-INVITE
    refreshing the session timer, a=sendrecv again), "update" (an UPDATE refreshing the
    session timer), "pause" (one second), "bye" (hang up; always last).
    `early_media`: a 183 with SDP and audio before the 200."""
    pt = {"PCMU": 0, "PCMA": 8}[codec]
    sdp = _SDP.format(version=1, pt=pt, codec=codec, direction="sendrecv")
    out = _HEAD.format(name=f"{codec} callee").replace(
        '<recv request="INVITE" crlf="true"/>', _invite_kept())
    reply = """  <send{retrans}>
    <![CDATA[

      SIP/2.0 {code} {text}
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]fault[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>
      Content-Type: application/sdp
      Content-Length: [len]
{sdp}
    ]]>
  </send>
"""
    if early_media:
        out += reply.format(retrans="", code=183, text="Session Progress", sdp=sdp)
        out += f'  <nop><action><exec rtp_stream="{line_wav},-1,{pt}"/></action></nop>\n'
        out += '  <pause milliseconds="1500"/>\n'
    out += reply.format(retrans=' retrans="500"', code=200, text="OK", sdp=sdp)
    out += f'''  <recv request="ACK" crlf="true">
    <action>
      <exec rtp_stream="{line_wav},-1,{pt}"/>
    </action>
  </recv>
  <pause milliseconds="1500"/>
'''
    for cseq, step in enumerate(steps, start=1):
        if step == "pause":
            out += '  <pause milliseconds="1000"/>\n'
        elif step == "hold":
            held = _SDP.format(version=cseq + 1, pt=pt, codec=codec, direction="sendonly")
            out += _reinvite(cseq, held)
        elif step == "refresh":
            again = _SDP.format(version=cseq + 1, pt=pt, codec=codec, direction="sendrecv")
            out += _reinvite(cseq, again, "      Supported: timer\n"
                                          "      Session-Expires: 90;refresher=uas\n")
        elif step == "update":
            out += _IN_DIALOG.format(method="UPDATE", cseq=cseq, body="",
                                     headers="      Supported: timer\n"
                                             "      Session-Expires: 90;refresher=uas\n")
        elif step == "bye":
            out += _IN_DIALOG.format(method="BYE", cseq=cseq, body="", headers="")
    return out + "</scenario>\n"


def answers_as_cancelled(sdp_codec: str = "PCMU") -> str:
    """Ring until the caller gives up (its CANCEL), and answer the INVITE as that CANCEL
    arrives: the CANCEL gets its 200 and the INVITE a 200 too, instead of a 487 (the
    callee picked up at that very moment; RFC 3261 9.2 lets the INVITE's final response
    win). The caller must ACK our 200 and hang up with a BYE, not leave us on an open
    line."""
    pt = {"PCMU": 0, "PCMA": 8}[sdp_codec]
    sdp = _SDP.format(version=1, pt=pt, codec=sdp_codec, direction="sendrecv")
    ok = """  <send>
    <![CDATA[

      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]{tag}
      [last_Call-ID:]
      {cseq}
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>
{rest}
    ]]>
  </send>
"""
    return _HEAD.replace('<recv request="INVITE" crlf="true"/>', """<recv request="INVITE" crlf="true">
    <action>
      <ereg regexp=".*" search_in="hdr" header="CSeq:" assign_to="invite_cseq"/>
    </action>
  </recv>""").format(name="answer crossing CANCEL") + """  <send>
    <![CDATA[

      SIP/2.0 180 Ringing
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]fault[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

    ]]>
  </send>
  <recv request="CANCEL"/>
""" + ok.format(tag=";tag=[pid]fault[call_number]", cseq="[last_CSeq:]",
                rest="      Content-Length: 0\n") + ok.format(
    tag=";tag=[pid]fault[call_number]", cseq="CSeq: [$invite_cseq]",
    rest="      Content-Type: application/sdp\n      Content-Length: [len]\n"
    + sdp) + """  <recv request="ACK"/>
  <recv request="BYE"/>
""" + ok.format(tag="", cseq="[last_CSeq:]", rest="      Content-Length: 0\n") + "</scenario>\n"


def answers_but_ack_lost(line_wav: str, codec: str = "PCMU",
                         gaps_ms: tuple[int, ...] = (500, 1000, 2000)) -> str:
    """Answer, then act as a callee whose network loses every ACK: send the same 200
    again after each gap in `gaps_ms` (RFC 3261 13.3.1.4, T1 doubling; a real UAS goes
    on for 64*T1 = 32 s), which the caller must ACK again each time (13.2.2.4), and at
    last end the session with a BYE, as that section says a UAS whose 200 was never
    acknowledged does.

    Play it with SIPp's `-nr`: SIPp otherwise takes the caller's second ACK (the same
    bytes as its first, rightly) for a retransmission and answers it with its last
    message, a 200 again: an endless loop no real UAS would start."""
    pt = {"PCMU": 0, "PCMA": 8}[codec]
    ok = """  <send>
    <![CDATA[

      SIP/2.0 200 OK
      Via: [$via]
      From: [$remote]
      To: [$local]
      Call-ID: [$callid]
      CSeq: [$invite_cseq]
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>
      Content-Type: application/sdp
      Content-Length: [len]
""" + _SDP.format(version=1, pt=pt, codec=codec, direction="sendrecv") + """
    ]]>
  </send>
  <recv request="ACK" crlf="true"/>
"""
    out = _HEAD.format(name="ACK lost").replace('<recv request="INVITE" crlf="true"/>',
                                                 _invite_kept(resent=True))
    out += ok + f'  <nop><action><exec rtp_stream="{line_wav},-1,{pt}"/></action></nop>\n'
    for gap in gaps_ms:
        out += f'  <pause milliseconds="{gap}"/>\n' + ok
    return out + _IN_DIALOG.format(method="BYE", cseq=1, body="", headers="") \
        + "</scenario>\n"
