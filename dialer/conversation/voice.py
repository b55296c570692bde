"""The robot's words as audio for one call: each sentence rendered once (the TTS engine's
own disk cache aside), and every prompt a contact can hear rendered before the phone
rings, in the sentence pieces the TTS processor plays."""

from __future__ import annotations

from typing import Any

from dialer.conversation.processors.speaking import sentences
from dialer.conversation.script import Script
from voices.tts import TtsEngine


class PromptAudio:
    def __init__(self, tts: TtsEngine, sample_rate: int) -> None:
        self.tts, self.sample_rate = tts, sample_rate
        self._pcm: dict[str, bytes] = {}

    def render(self, text: str) -> bytes:
        if text not in self._pcm:
            self._pcm[text] = self.tts.synthesize(text, self.sample_rate)
        return self._pcm[text]

    def prerender(self, script: Script, fields: dict[str, Any], handoff: bool) -> None:
        s = script
        texts = [s.render(name, fields) for name in s.nodes]
        texts += [s.render_text(p, fields) for p in (s.settings.fallback_prompt,
                                                      s.settings.no_input_prompt)]
        texts += [s.render_text(text, fields) for _, text in s.confirm_texts()]
        if handoff:
            texts.append(s.render_text(s.settings.hold_prompt, fields))
        if s.answering_machine is not None and s.answering_machine.voicemail:
            texts.append(s.render_text(s.answering_machine.voicemail, fields))
        for text in texts:
            for sentence in sentences(text):
                self.render(sentence)
