"""`python -m nlu`: train, parse, evaluate and serve Rasa-format NLU models.

    python -m nlu train --data nlu.yml --out models/demo
    echo "네 관심 있어요" | python -m nlu parse --model models/demo
    python -m nlu evaluate --model models/demo --data test.yml --json
    python -m nlu serve --model models/demo --port 5005     # Rasa's POST /model/parse
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

app = typer.Typer(help="Our own NLU in Rasa's formats.", no_args_is_help=True,
                  pretty_exceptions_enable=False)


def fail(message: str, code: int = 2) -> None:
    print(f"error: {message}", file=sys.stderr)
    raise typer.Exit(code)


def _load(model: Path) -> Any:
    from nlu.component import NluModelError
    from nlu.model import NluModel

    try:
        return NluModel.load(model)
    except NluModelError as exc:
        fail(str(exc))


def _data(paths: list[Path]) -> Any:
    from nlu.training_data import NluDataError, load_training_data

    try:
        return load_training_data(paths)
    except NluDataError as exc:
        fail(str(exc))


@app.command()
def train(
    data: Annotated[list[Path], typer.Option(help="nlu.yml file or directory; repeatable.")],
    out: Annotated[Path, typer.Option(help="Directory to write the model to.")],
    config: Annotated[str | None, typer.Option(
        help='JSON object overriding pipeline settings, e.g. \'{"fallback_threshold": 0.5}\'.'
    )] = None,
) -> None:
    """Train a model on Rasa NLU training data and save it."""
    from nlu.model import DEFAULT_CONFIG, NluModel, NluModelError

    overrides: dict[str, Any] = {}
    if config:
        try:
            overrides = json.loads(config)
            assert isinstance(overrides, dict)
        except (ValueError, AssertionError):
            fail(f"--config {config!r} is not a JSON object; write e.g. "
                 '\'{"fallback_threshold": 0.5}\'')
        unknown = sorted(set(overrides) - set(DEFAULT_CONFIG))
        if unknown:
            fail(f"--config has unknown keys {unknown}; known: {sorted(DEFAULT_CONFIG)}")
    training = _data(data)
    for warning in training.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    t = time.perf_counter()
    try:
        model = NluModel.train(training, overrides)
    except NluModelError as exc:
        fail(str(exc))
    seconds = time.perf_counter() - t
    model.save(out)
    print(json.dumps({"model": str(out), "intents": len(model.intents),
                      "examples": len(training.examples), "train_s": round(seconds, 3),
                      **{k: model.config[k] for k in ("fallback_threshold",
                                                      "out_of_scope_threshold",
                                                      "ambiguity_margin", "embedding_model")}},
                     ensure_ascii=False))


@app.command()
def parse(model: Annotated[Path, typer.Option(help="Model directory (from `train`).")]) -> None:
    """Read one text per line on stdin; write one /model/parse JSON per line."""
    nlu = _load(model)
    for number, raw in enumerate(sys.stdin.buffer, 1):
        try:
            text = raw.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError:
            fail(f"stdin line {number} is not UTF-8 text; convert the input "
                 "(e.g. iconv -f cp949 -t utf-8)")
        print(json.dumps(nlu.parse(text), ensure_ascii=False), flush=True)


@app.command()
def evaluate(
    model: Annotated[Path, typer.Option(help="Model directory (from `train`).")],
    data: Annotated[list[Path], typer.Option(help="Held-out nlu.yml file or directory.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the full report as JSON.")]
    = False,
) -> None:
    """Accuracy, per-intent precision/recall/F1, confusions, fallback rate, calibration.
    Test examples under an `out_of_scope` (or `oos`) intent should fall back."""
    from nlu.evaluation import evaluate as run

    report = run(_load(model).parse, _data(data).examples)
    if as_json:
        print(json.dumps(report, ensure_ascii=False, indent=1))
        return
    for key in ("examples", "accuracy", "in_scope_accuracy", "in_scope_fallback_rate",
                "out_of_scope_recall", "fallback_rate", "parse_ms_p50", "parse_ms_p95"):
        print(f"{key:>24}: {report[key]}")
    print(f"{'calibration ECE':>24}: {report['calibration']['ece']}")
    for c in report["confusions"][:10]:
        print(f"{'confused':>24}: {c['expected']} -> {c['predicted']} x{c['count']}")


@app.command()
def serve(
    model: Annotated[Path, typer.Option(help="Model directory (from `train`).")],
    host: str = "127.0.0.1",
    port: int = 5005,
) -> None:
    """Answer Rasa's HTTP API (POST /model/parse, GET /status) with this model."""
    import uvicorn

    from nlu.server import create_app

    uvicorn.run(create_app(_load(model), model), host=host, port=port, log_level="warning")


def main() -> None:
    app()
