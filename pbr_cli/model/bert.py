"""BERT-style layers on plain torch (SDPA attention), with optional cross-attention, and HF weight loading by name."""

from __future__ import annotations

import json
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import FormatError


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

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None, context: torch.Tensor | None = None,
                context_mask: torch.Tensor | None = None) -> torch.Tensor:
        source = x if context is None else context
        key_mask = mask if context is None else context_mask                    # (B, S) bool or None
        attn_mask = None if key_mask is None else key_mask[:, None, None, :]      # (B, 1, 1, S)
        p = self.dropout if self.training else 0.0
        out = F.scaled_dot_product_attention(self._split(self.query(x)), self._split(self.key(source)),
                                             self._split(self.value(source)), attn_mask=attn_mask, dropout_p=p)
        out = out.transpose(1, 2).flatten(2)                                      # (B, T, H*D)
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

    def forward(self, x, mask, image=None, image_mask=None):
        x = self.self_attn(x, mask)
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


def read_hf_bert(folder: str | Path) -> tuple[dict, dict[str, torch.Tensor]]:
    """config.json and weights (safetensors, else a weights-only torch file) of a Hugging Face BERT folder."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FormatError("not a folder (expected a Hugging Face BERT folder)", folder)
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise FormatError("no readable config.json in the BERT folder", folder) from None
    from .checkpoint import read_weights

    weights = [folder / name for name in ("model.safetensors", "pytorch_model.bin") if (folder / name).is_file()]
    if not weights:
        raise FormatError("no model.safetensors or pytorch_model.bin in the BERT folder", folder)
    state = read_weights(weights[0])
    state = {k.removeprefix("bert."): v for k, v in state.items()}
    return config, state


def hf_layer_names(hf_index: int, cross: bool = False) -> dict[str, str]:
    """Map our `Layer` parameter names to a Hugging Face BertLayer's, for layer `hf_index`."""
    prefix = f"encoder.layer.{hf_index}."
    names = {}
    for ours, theirs in [("query", "attention.self.query"), ("key", "attention.self.key"),
                         ("value", "attention.self.value"), ("dense", "attention.output.dense"),
                         ("norm", "attention.output.LayerNorm")]:
        for param in ("weight", "bias"):
            names[f"self_attn.{ours}.{param}"] = f"{prefix}{theirs}.{param}"
    for ours, theirs in [("intermediate", "intermediate.dense"), ("output", "output.dense"), ("norm", "output.LayerNorm")]:
        for param in ("weight", "bias"):
            names[f"{ours}.{param}"] = f"{prefix}{theirs}.{param}"
    return names


def load_hf_layers(layers: nn.ModuleList, state: dict[str, torch.Tensor], first_hf_layer: int, folder) -> None:
    """Copy HF BERT layers `first_hf_layer..` into `layers` (cross-attention, absent in BERT, stays new)."""
    for offset, layer in enumerate(layers):
        own = layer.state_dict()
        for ours, theirs in hf_layer_names(first_hf_layer + offset).items():
            if theirs not in state:
                raise FormatError(f"BERT weights lack {theirs} (the model needs {first_hf_layer + len(layers)} layers)", folder)
            if state[theirs].shape != own[ours].shape:
                raise FormatError(f"{theirs} has shape {tuple(state[theirs].shape)}, expected {tuple(own[ours].shape)}", folder)
            own[ours] = state[theirs]
        layer.load_state_dict(own)


def load_hf_embeddings(embeddings: Embeddings, state: dict[str, torch.Tensor], folder) -> None:
    pairs = {"word.weight": "embeddings.word_embeddings.weight", "position.weight": "embeddings.position_embeddings.weight",
             "token_type.weight": "embeddings.token_type_embeddings.weight", "norm.weight": "embeddings.LayerNorm.weight",
             "norm.bias": "embeddings.LayerNorm.bias"}
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
