"""A campaign's directory as the conversation uses it: the script, its NLU training data
and the NLU that parses replies. Reading and checking never trains a model; `load_kit`
does, once, where a call or an explicit command needs the NLU."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dialer.conversation.script import Script, ScriptError
from dialer.conversation.script_loader import load_script
from nlu.model import NluModel, NluModelError
from nlu.training_data import TrainingData, load_training_data


@dataclass
class CampaignKit:
    """A campaign's script and the NLU trained from its nlu.yml."""

    script: Script
    data: TrainingData
    nlu: Any  # NluModel, or RasaHttpParser when the script names a Rasa server

    def phrases(self, intent: str) -> list[str]:
        return self.data.phrases_for(intent)


def read_campaign(script_dir: Path | str) -> tuple[Script, TrainingData]:
    """Read and check a campaign directory, script.yml against the intents of nlu.yml,
    without training anything: what a web request or an import needs to check a list's
    {fields}."""
    script_dir = Path(script_dir)
    nlu_path = script_dir / "nlu.yml"
    if not nlu_path.exists():
        raise ScriptError(f"{nlu_path}: missing; a campaign directory needs nlu.yml "
                          "(Rasa NLU training data) beside script.yml")
    data = load_training_data(nlu_path)
    return load_script(script_dir, known_intents=set(data.intents())), data


def load_kit(script_dir: Path | str) -> CampaignKit:
    """A campaign directory, checked, with its NLU ready to parse: trained from nlu.yml,
    the saved model the script names, or the Rasa server it names."""
    script, data = read_campaign(script_dir)
    if script.rasa_url:
        from nlu.rasa_http import RasaHttpParser

        return CampaignKit(script=script, data=data,
                           nlu=RasaHttpParser(script.rasa_url, script.rasa_timeout_s))
    if script.nlu_model is not None:
        return CampaignKit(script=script, data=data, nlu=_saved_model(script))
    try:
        model = NluModel.train(data, script.nlu_config)
    except NluModelError as e:
        raise ScriptError(f"{script.path}: nlu.config: {e}") from None
    return CampaignKit(script=script, data=data, nlu=model)


def _saved_model(script: Script) -> NluModel:
    """The saved model a script names, refused unless it knows every intent the script uses."""
    assert script.nlu_model is not None
    try:
        model = NluModel.load(script.nlu_model)
    except NluModelError as e:
        raise ScriptError(f"{script.path}: nlu.model: {e}") from None
    missing = sorted(script.intents_used() - set(model.intents))
    if missing:
        raise ScriptError(f"{script.path}: nlu.model {script.nlu_model} does not know the "
                          f"intent(s) {', '.join(missing)} the script uses; retrain it with "
                          "`python -m nlu train --data nlu.yml --out ...`")
    return model


def check_nlu(kit: CampaignKit) -> None:
    """Ask the campaign's NLU one of its own examples: an external server that is down
    is reported now, when the campaign is created, not on the first call."""
    kit.nlu.parse(kit.data.examples[0].text)
