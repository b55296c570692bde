"""The layering of the packages, read from the imports (tests/architecture/imports.py):
no circles, no import that runs back up, the web app loads neither the SIP stack nor the
recogniser, the conversation knows neither the database nor SIP nor vosk, and nothing in
the packages imports the top-level worker.py (its Celery entry point)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.architecture.imports import ROOT, Graph, build

# Which parts may import which: a part of dialer/ is its sub-package; "dialer" is the
# modules at its top (settings, broker, opsmetrics). The order is the layering: nothing
# may import a part listed after it.
ALLOWED: dict[str, set[str]] = {
    "voices": set(),
    "nlu": set(),
    "dialer.conversation": {"nlu", "voices"},
    "dialer.telephony": set(),
    "campaigns": {"dialer.conversation"},  # its Disposition maps the conversation's Outcome
    "dialer.handoff": {"dialer.conversation", "dialer.telephony", "voices"},
    "dialer": {"dialer.telephony", "dialer.handoff", "campaigns"},
    "dialer.call": {"dialer", "dialer.conversation", "dialer.telephony", "dialer.handoff",
                    "campaigns", "nlu", "voices"},
    "dialer.sandbox": {"dialer", "dialer.conversation", "dialer.telephony", "dialer.handoff",
                       "dialer.call", "campaigns", "nlu", "voices"},
    "dialer.web": {"dialer", "dialer.conversation", "dialer.handoff", "dialer.sandbox",
                   "campaigns", "nlu", "voices"},
    "dialer.jobs": {"dialer", "dialer.conversation", "dialer.telephony", "dialer.handoff",
                    "dialer.call", "campaigns", "nlu", "voices"},
    "dialer.cli": {"dialer", "dialer.conversation", "dialer.telephony", "dialer.handoff",
                   "dialer.call", "dialer.sandbox", "dialer.web", "dialer.jobs", "campaigns",
                   "nlu", "voices"},
    "worker": {"dialer.jobs"},
}
SUB = ("conversation", "telephony", "call", "handoff", "web", "sandbox", "cli", "jobs")
# Third-party modules a part must never load, directly or through anything it imports.
NEVER = {
    "dialer.web": {"pjsua2", "vosk"},
    "dialer.conversation": {"sqlalchemy", "pjsua2", "vosk"},
    "campaigns": {"pjsua2", "vosk"},
}


def part(module: str) -> str:
    names = module.split(".")
    if names[0] == "dialer":
        return f"dialer.{names[1]}" if len(names) > 1 and names[1] in SUB else "dialer"
    return names[0]


@pytest.fixture(scope="module")
def graph() -> Graph:
    return build()


def test_every_module_belongs_to_a_known_part(graph: Graph) -> None:
    assert {part(m) for m in graph.modules} == set(ALLOWED)


def test_the_allowed_layering_has_no_circle_and_runs_one_way() -> None:
    order = list(ALLOWED)
    for here, may in ALLOWED.items():
        later = [p for p in may if order.index(p) >= order.index(here)]
        assert not later, f"{here} may import {later}, listed after it"


def test_no_import_circle(graph: Graph) -> None:
    assert graph.cycles() == []


def test_no_import_runs_back_up_the_layers(graph: Graph) -> None:
    wrong = sorted(f"{m} imports {t} (line {line})"
                   for m, edges in graph.edges.items() for t, line in edges.items()
                   if t in graph.modules and part(t) != part(m)
                   and part(t) not in ALLOWED[part(m)])
    assert wrong == []


@pytest.mark.parametrize("top", sorted(NEVER))
def test_a_part_never_loads_what_it_must_not(graph: Graph, top: str) -> None:
    found = []
    for module in sorted(m for m in graph.modules if part(m) == top):
        reach = graph.reach(module)
        found += [" -> ".join(reach[bad]) for bad in sorted(NEVER[top]) if bad in reach]
    assert found == []


def test_the_checker_sees_a_violation(tmp_path: Path) -> None:
    """The rules above are not vacuous: a graph with a circle, a climb and a forbidden
    library is caught by each."""
    g = Graph(modules={"voices.a", "dialer.web.x", "dialer.telephony.sip"})
    g.edges = {"voices.a": {"dialer.web.x": 1}, "dialer.web.x": {"voices.a": 2},
               "dialer.telephony.sip": {"pjsua2": 3}}
    assert g.cycles() == [["dialer.web.x", "voices.a"]]
    assert part("dialer.web.x") not in ALLOWED[part("voices.a")]
    g.edges["dialer.web.x"]["dialer.telephony.sip"] = 4
    assert g.reach("dialer.web.x")["pjsua2"] == ["dialer.web.x", "dialer.telephony.sip",
                                                 "pjsua2"]


def test_the_web_app_when_running_has_loaded_neither_pjsua2_nor_vosk(tmp_path: Path) -> None:
    """The same, measured: a web server process with every route module loaded."""
    code = (
        "import sys\n"
        "from campaigns.settings import CampaignSettings\n"
        "from dialer.web.app import create_app\n"
        "from dialer.web.auth import path_operations\n"
        f"app = create_app(CampaignSettings(data_dir={str(tmp_path)!r}))\n"
        "served = len(path_operations(app.routes))\n"
        "assert served > 50, served\n"
        "print(sorted(m for m in ('pjsua2', 'vosk', 'sklearn', 'worker') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, timeout=120, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
