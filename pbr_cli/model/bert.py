"""BERT-style layers on plain torch (SDPA attention), with optional cross-attention, and HF weight loading by name."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import FormatError
from .config import Rule, choice, integer


class Attention(nn.Module):
    """Multi-head attention with a post-LN residual; keys/values from `context` when given (cross-attention)."""

    def __init__(self, hidden: int, heads: int, dropout: float, context_dim: int | None = None):
        super().__init__()
        self.heads = heads
        self.query = nn.Linear(hidden, hidden)
        self.key = nn.Linear(context_dim or hidden, hidden)
        self.value = nn.Linear(context_dim or hidden, hidden)
        self.dense = nn.Linear(hidden, hidden)
        self.norm = nn.LayerNorm(hidden, eps=1e-12)
        self.dropout = dropout

    def _split(self, x: torch.Tensor) -> torch.Tensor:  # (B, T, H*D) -> (B, H, T, D)
        batch, length, width = x.shape
        return x.view(batch, length, self.heads, width // self.heads).transpose(1, 2)

    def forward(
        self,
        x: torch.Tensor,
        mask: torch.Tensor | None,
        context: torch.Tensor | None = None,
        context_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        source = x if context is None else context
        key_mask = mask if context is None else context_mask  # (B, S) bool or None
        attn_mask = None if key_mask is None else key_mask[:, None, None, :]  # (B, 1, 1, S)
        p = self.dropout if self.training else 0.0
        if x.shape[0] > 1 and x.stride(0) == 0:  # one sequence expanded over the rows (ranking): its queries once
            q = self._split(self.query(x[:1])).expand(x.shape[0], -1, -1, -1)
        else:
            q = self._split(self.query(x))
        k, v = self._split(self.key(source)), self._split(self.value(source))
        if q.device.type == "cpu" and q.dtype == torch.bfloat16:
            q, k, v = q.float(), k.float(), v.float()  # the CPU's bf16 attention backward is ~10x slower than fp32
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, dropout_p=p).to(x.dtype)
        out = out.transpose(1, 2).flatten(2)  # (B, T, H*D)
        return self.norm(x + F.dropout(self.dense(out), p, self.training))


class Layer(nn.Module):
    """Self-attention, optional cross-attention to image tokens, feed-forward (a BERT / ALBEF fusion layer)."""

    def __init__(self, hidden: int, heads: int, intermediate: int, dropout: float, cross_dim: int | None = None):
        super().__init__()
        self.self_attn = Attention(hidden, heads, dropout)
        self.cross_attn = Attention(hidden, heads, dropout, context_dim=cross_dim) if cross_dim else None
        self.intermediate = nn.Linear(hidden, intermediate)
        self.output = nn.Linear(intermediate, hidden)
        self.norm = nn.LayerNorm(hidden, eps=1e-12)
        self.dropout = dropout

    def forward(self, x, mask, image=None, image_mask=None, first_only: bool = False, same_rows: bool = False):
        """(B, T, C) -> (B, T, C); or (B, 1, C) with `first_only`: only position 0's output, from its query alone
        (the same numbers, for a layer whose other positions nobody reads). `same_rows`: every row of `x` is the
        same sequence (one dialogue against many stickers), so the self-attention runs once and is broadcast."""
        rows = x.shape[0]
        if same_rows:
            x, mask = x[:1], None if mask is None else mask[:1]
        if first_only:
            x = self.self_attn(x[:, :1], None, context=x, context_mask=mask)
        else:
            x = self.self_attn(x, mask)
        if same_rows:
            x = x.expand(rows, -1, -1)
        if self.cross_attn is not None:
            x = self.cross_attn(x, mask, context=image, context_mask=image_mask)
        hidden = self.output(F.gelu(self.intermediate(x)))
        return self.norm(x + F.dropout(hidden, self.dropout if self.training else 0.0, self.training))


class Embeddings(nn.Module):
    """Token + position + token-type embeddings, LayerNorm, dropout (BERT's input layer)."""

    def __init__(self, vocab_size: int, hidden: int, max_len: int, dropout: float, input_dim: int | None = None):
        super().__init__()
        self.word = nn.Embedding(vocab_size, input_dim or hidden, padding_idx=0)
        self.project = nn.Linear(input_dim, hidden) if input_dim and input_dim != hidden else None
        self.position = nn.Embedding(max_len, hidden)
        self.token_type = nn.Embedding(2, hidden)
        self.norm = nn.LayerNorm(hidden, eps=1e-12)
        self.dropout = dropout
        # BERT's initialiser (N(0, 0.02)), not nn.Embedding's N(0, 1): behind the LayerNorm only the relative
        # size of an update counts, and with unit-scale tables AdamW's steps move them ~50x more slowly
        for table in (self.word, self.position, self.token_type):
            nn.init.normal_(table.weight, std=0.02)
        with torch.no_grad():
            self.word.weight[0].zero_()

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:  # (B, T) -> (B, T, C)
        x = self.word(input_ids)
        if self.project is not None:
            x = self.project(x)
        positions = torch.arange(input_ids.shape[1], device=input_ids.device)
        x = x + self.position(positions)[None] + self.token_type.weight[0]
        return F.dropout(self.norm(x), self.dropout if self.training else 0.0, self.training)


REQUIRED = None  # the default of a key that config.json must have

# The config.json keys pbr reads from a Hugging Face BERT folder: their rule, and the default when one may be absent.
HF_BERT_KEYS: dict[str, tuple[Rule, Any]] = {
    "hidden_size": (integer(1, 65536), REQUIRED),
    "num_attention_heads": (integer(1, 1024), REQUIRED),
    "intermediate_size": (integer(1, 262144), REQUIRED),
    "num_hidden_layers": (integer(1, 256), REQUIRED),
    "max_position_embeddings": (integer(8, 65536), REQUIRED),
    "vocab_size": (integer(5, 100_000_000), REQUIRED),
    "type_vocab_size": (integer(1, 1024), 2),
    "hidden_act": (choice("gelu"), "gelu"),  # the activation of our `Layer`
}
HF_WEIGHTS = ("model.safetensors", "pytorch_model.bin")


def read_hf_bert_config(folder: str | Path) -> dict:
    """The checked HF_BERT_KEYS of a Hugging Face BERT folder's config.json; FormatError names the file and key."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FormatError("not a folder (expected a Hugging Face BERT folder)", folder)
    config_file = folder / "config.json"
    if not config_file.is_file():
        raise FormatError("no config.json in the BERT folder", folder)
    try:
        data = json.loads(config_file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise FormatError(f"cannot read ({exc.strerror or exc.__class__.__name__})", config_file) from None
    except ValueError as exc:
        raise FormatError(
            f"not valid JSON ({exc.__class__.__name__}: {str(exc).splitlines()[0]})", config_file
        ) from None
    if not isinstance(data, dict):
        raise FormatError(f"expected a JSON object, got {type(data).__name__}", config_file)
    config = {}
    for key, (rule, default) in HF_BERT_KEYS.items():
        if key not in data and default is REQUIRED:
            raise FormatError(f"{key}: missing (a BERT config.json has it)", config_file)
        try:
            config[key] = rule.check(data.get(key, default))
        except ValueError as exc:
            raise FormatError(f"{key}: {exc}", config_file) from None
    if config["hidden_size"] % config["num_attention_heads"]:
        raise FormatError(
            f"num_attention_heads: must divide hidden_size ({config['hidden_size']}), "
            f"got {config['num_attention_heads']}",
            config_file,
        )
    return config


def hf_weights_file(folder: str | Path) -> Path:
    """model.safetensors, else pytorch_model.bin, of a Hugging Face BERT folder."""
    for name in HF_WEIGHTS:
        if (Path(folder) / name).is_file():
            return Path(folder) / name
    raise FormatError("no model.safetensors or pytorch_model.bin in the BERT folder", folder)


def hf_bert_shapes(config: dict) -> dict[str, tuple[int, ...]]:
    """The shape of every tensor pbr takes from a BERT checkpoint with this config.json."""
    hidden, inner = config["hidden_size"], config["intermediate_size"]
    shapes = {
        "embeddings.word_embeddings.weight": (config["vocab_size"], hidden),
        "embeddings.position_embeddings.weight": (config["max_position_embeddings"], hidden),
        "embeddings.token_type_embeddings.weight": (config["type_vocab_size"], hidden),
        "embeddings.LayerNorm.weight": (hidden,),
        "embeddings.LayerNorm.bias": (hidden,),
    }
    for index in range(config["num_hidden_layers"]):
        for ours, theirs in hf_layer_names(index).items():
            module, param = ours.rsplit(".", 1)
            rows = inner if module == "intermediate" else hidden
            columns = inner if module == "output" else hidden
            shapes[theirs] = (rows, columns) if param == "weight" and not module.endswith("norm") else (rows,)
    return shapes


def _hf_name(name: str) -> str:
    """A BERT checkpoint's tensor name as BertModel.save_pretrained writes it (no `bert.`, LayerNorm weight/bias)."""
    name = name.removeprefix("bert.")
    if name.endswith("LayerNorm.gamma") or name.endswith("LayerNorm.beta"):  # TF-converted checkpoints
        name = name.rsplit(".", 1)[0] + (".weight" if name.endswith("gamma") else ".bias")
    return name


def check_hf_bert_shapes(config: dict, shapes: dict[str, tuple[int, ...]], weights_file: Path) -> None:
    """Every tensor pbr takes is in the checkpoint with the shape config.json gives it."""
    for name, shape in hf_bert_shapes(config).items():
        if name not in shapes:
            raise FormatError(
                f"lacks {name} (config.json: num_hidden_layers {config['num_hidden_layers']})", weights_file
            )
        if tuple(shapes[name]) != shape:
            raise FormatError(f"{name} has shape {tuple(shapes[name])}, but config.json gives {shape}", weights_file)


def check_hf_bert_weights(folder: str | Path, config: dict) -> None:
    """Check the weights of a BERT folder against its config.json without loading them (safetensors headers;
    a pytorch_model.bin is checked when it is loaded)."""
    from .weights import is_safetensors

    weights_file = hf_weights_file(folder)
    if not is_safetensors(weights_file):
        return
    from safetensors import safe_open

    try:
        with safe_open(str(weights_file), framework="pt") as handle:
            shapes = {_hf_name(name): tuple(handle.get_slice(name).get_shape()) for name in handle.keys()}
    except Exception as exc:
        reason = (str(exc).splitlines() or [exc.__class__.__name__])[0]
        raise FormatError(f"not a readable safetensors file ({reason})", weights_file) from None
    check_hf_bert_shapes(config, shapes, weights_file)


def read_hf_bert(folder: str | Path) -> tuple[dict, dict[str, torch.Tensor]]:
    """config.json and weights (safetensors, else a weights-only torch file) of a Hugging Face BERT folder,
    every tensor pbr takes present with the shape config.json gives it."""
    from .weights import read_state_dict

    config = read_hf_bert_config(folder)
    weights_file = hf_weights_file(folder)
    state = {_hf_name(name): tensor for name, tensor in read_state_dict(weights_file).items()}
    check_hf_bert_shapes(config, {name: tuple(tensor.shape) for name, tensor in state.items()}, weights_file)
    return config, state


def hf_layer_names(hf_index: int, cross: bool = False) -> dict[str, str]:
    """Map our `Layer` parameter names to a Hugging Face BertLayer's, for layer `hf_index`."""
    prefix = f"encoder.layer.{hf_index}."
    names = {}
    for ours, theirs in [
        ("query", "attention.self.query"),
        ("key", "attention.self.key"),
        ("value", "attention.self.value"),
        ("dense", "attention.output.dense"),
        ("norm", "attention.output.LayerNorm"),
    ]:
        for param in ("weight", "bias"):
            names[f"self_attn.{ours}.{param}"] = f"{prefix}{theirs}.{param}"
    for ours, theirs in [
        ("intermediate", "intermediate.dense"),
        ("output", "output.dense"),
        ("norm", "output.LayerNorm"),
    ]:
        for param in ("weight", "bias"):
            names[f"{ours}.{param}"] = f"{prefix}{theirs}.{param}"
    return names


def load_hf_layers(layers: nn.ModuleList, state: dict[str, torch.Tensor], first_hf_layer: int, folder) -> None:
    """Copy HF BERT layers `first_hf_layer..` into `layers` (cross-attention, absent in BERT, stays new)."""
    for offset, layer in enumerate(layers):
        own = layer.state_dict()
        for ours, theirs in hf_layer_names(first_hf_layer + offset).items():
            if theirs not in state:
                raise FormatError(
                    f"BERT weights lack {theirs} (the model needs {first_hf_layer + len(layers)} layers)", folder
                )
            if state[theirs].shape != own[ours].shape:
                raise FormatError(
                    f"{theirs} has shape {tuple(state[theirs].shape)}, expected {tuple(own[ours].shape)}", folder
                )
            own[ours] = state[theirs]
        layer.load_state_dict(own)


def load_hf_embeddings(embeddings: Embeddings, state: dict[str, torch.Tensor], folder) -> None:
    pairs = {
        "word.weight": "embeddings.word_embeddings.weight",
        "position.weight": "embeddings.position_embeddings.weight",
        "token_type.weight": "embeddings.token_type_embeddings.weight",
        "norm.weight": "embeddings.LayerNorm.weight",
        "norm.bias": "embeddings.LayerNorm.bias",
    }
    own = embeddings.state_dict()
    for ours, theirs in pairs.items():
        if theirs not in state:
            raise FormatError(f"BERT weights lack {theirs}", folder)
        value = state[theirs]
        if ours == "position.weight":
            value = value[: own[ours].shape[0]]
        if value.shape != own[ours].shape:
            raise FormatError(f"{theirs} has shape {tuple(value.shape)}, expected {tuple(own[ours].shape)}", folder)
        own[ours] = value
    embeddings.load_state_dict(own)
