"""The model core shared by train, evaluate, embed and rank: towers, projections, fusion encoder and heads.

`forward` computes no loss; training, evaluation, embedding and ranking all go through
`encode_image`, `encode_text` and `match`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError, FormatError
from .bert import Layer, check_hf_bert_weights, load_hf_embeddings, load_hf_layers, read_hf_bert, read_hf_bert_config
from .config import ModelConfig
from .towers import BertTextTower, ImageTower, build_text_tower, load_image_weights


@dataclass
class ImageFeatures:
    tokens: torch.Tensor  # (B, 1 + N_V, C_V) image-tower sequence V
    embedding: torch.Tensor  # (B, C) L2-normalised ITC embedding of v_cls

    @property
    def cls(self) -> torch.Tensor:  # (B, C_V) v_cls
        return self.tokens[:, 0]


@dataclass
class TextFeatures:
    tokens: torch.Tensor  # (B, T, C_T) text-tower sequence W
    mask: torch.Tensor  # (B, T) bool, True for real tokens
    embedding: torch.Tensor  # (B, C) L2-normalised ITC embedding of w_cls


class FusionEncoder(nn.Module):
    """Layers of self-attention + cross-attention (text queries, image keys/values) + FFN; ITM head on [CLS]."""

    def __init__(self, config: ModelConfig, image_width: int):
        super().__init__()
        self.layers = nn.ModuleList(
            Layer(config.hidden, config.heads, config.intermediate, config.dropout, cross_dim=image_width)
            for _ in range(config.fusion_layers)
        )
        extra = config.embed_dim if config.itm_input == "fusion+itc" else 0
        self.itm_head = nn.Linear(config.hidden + extra, 2)
        if extra:
            # the pair feature is t ⊙ v / τ, whose sum is the ITC logit: start the head at that similarity
            # (match minus no-match logit = cos / τ), so ITM begins where ITC is and the fusion learns the rest;
            # AdamW's steps of ~lr could not grow weights to that size within a short training
            with torch.no_grad():
                self.itm_head.weight[:, config.hidden :] = torch.tensor([[-0.5], [0.5]])

    def forward(self, text_tokens, text_mask, image_tokens, pair_feature=None) -> torch.Tensor:  # -> (B, 2)
        """ITM logits from the fusion [CLS] (and, with itm_input fusion+itc, the pair's ITC product (B, C))."""
        x = text_tokens
        # rows that are one text expanded (ranking one dialogue) share the first self-attention; only the [CLS]
        # position of the last layer is read, so that layer runs for it alone
        same_rows = x.shape[0] > 1 and x.stride(0) == 0 and text_mask.stride(0) == 0
        for index, layer in enumerate(self.layers):
            x = layer(
                x,
                text_mask,
                image=image_tokens,
                first_only=index == len(self.layers) - 1,
                same_rows=same_rows and index == 0,
            )
        cls = x[:, 0]
        if pair_feature is not None:
            cls = torch.cat([cls, pair_feature.to(cls.dtype)], dim=-1)
        return self.itm_head(cls)


class PBRModel(nn.Module):
    """Image tower, text tower, ITC projections and temperature, fusion + ITM head, optional EKD / TSCL heads."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.image = ImageTower(config)
        self.text = build_text_tower(config, config.vocab_size)
        self.fusion = FusionEncoder(config, self.image.width) if config.fusion_layers > 0 else None
        self.vision_norm = nn.BatchNorm1d(self.image.width) if config.embed_norm == "batch" else nn.Identity()
        self.text_norm = nn.BatchNorm1d(config.hidden) if config.embed_norm == "batch" else nn.Identity()
        self.vision_proj = nn.Linear(self.image.width, config.embed_dim)
        self.text_proj = nn.Linear(config.hidden, config.embed_dim)
        temp = torch.tensor(float(config.temp))
        if config.learn_temp:
            self.temp = nn.Parameter(temp)
        else:
            self.register_buffer("temp", temp)
        self.ekd_head = nn.Linear(self.image.width, config.ekd_dim) if config.ekd_dim else None  # W^E (eq. 6)
        self.tscl_head = (
            nn.Sequential(
                nn.Linear(self.image.width, self.image.width), nn.ReLU(), nn.Linear(self.image.width, config.tscl_dim)
            )
            if config.tscl_dim
            else None
        )  # psi (§3.3)

    @property
    def temperature(self) -> torch.Tensor:
        return self.temp.clamp(0.001, 0.5)

    def encode_image(self, images: torch.Tensor) -> ImageFeatures:
        """(B, 3, H, W) pixels (uint8 or float 0..255) -> tokens and normalised ITC embedding."""
        tokens = self.image(images)
        return ImageFeatures(tokens, self.image_embedding(tokens))

    def encode_text(self, input_ids: torch.Tensor, mask: torch.Tensor) -> TextFeatures:
        """(B, T) token ids and bool mask -> tokens and normalised ITC embedding."""
        tokens = self.text(input_ids, mask)
        return TextFeatures(tokens, mask, self.text_embedding(tokens, mask))

    def image_embedding(self, tokens: torch.Tensor) -> torch.Tensor:
        """(B, L, C_V) image tokens -> (B, C) normalised ITC embedding of v_cls."""
        return F.normalize(self.vision_proj(self.vision_norm(tokens[:, 0].float())), dim=-1)

    def text_embedding(self, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """(B, T, C_T) text tokens -> (B, C) normalised ITC embedding of w_cls (or of the mean token)."""
        if self.config.txt_pool == "mean":
            weights = mask[..., None].to(tokens.dtype)  # (B, T, 1)
            pooled = (tokens * weights).sum(1) / weights.sum(1).clamp(min=1)
        else:
            pooled = tokens[:, 0]
        return F.normalize(self.text_proj(self.text_norm(pooled.float())), dim=-1)

    def match(self, text: TextFeatures | tuple, image_tokens: torch.Tensor) -> torch.Tensor:
        """ITM logits (B, 2) for aligned rows of text and image tokens."""
        if self.fusion is None:
            raise RuntimeError("this model has no fusion encoder (trained with --loss itc)")
        tokens, mask = (text.tokens, text.mask) if isinstance(text, TextFeatures) else text
        pair = None
        if self.config.itm_input == "fusion+itc":
            # the ITC embeddings of the pair, recomputed from the tokens; BatchNorm layers use their running
            # statistics here, so the ITM pairs (3K rows of repeated inputs) never shift them
            with _frozen_batchnorm(self):
                if tokens.shape[0] > 1 and tokens.stride(0) == 0 and mask.stride(0) == 0:  # one dialogue's rows
                    text = self.text_embedding(tokens[:1], mask[:1]).expand(tokens.shape[0], -1)
                else:
                    text = self.text_embedding(tokens, mask)
                pair = text * self.image_embedding(image_tokens) / self.temperature
        return self.fusion(tokens, mask, image_tokens, pair)

    def match_prob(self, text, image_tokens: torch.Tensor) -> torch.Tensor:
        """ITM probability that each (dialogue, sticker) row matches, (B,)."""
        return self.match(text, image_tokens).float().softmax(-1)[:, 1]

    def forward(self, images: torch.Tensor, input_ids: torch.Tensor, mask: torch.Tensor):
        """Features of both towers (no loss): (ImageFeatures, TextFeatures)."""
        return self.encode_image(images), self.encode_text(input_ids, mask)

    def load_pretrained(self, img_weights: str = "", txt_model: str = "") -> list[str]:
        """Load user-given weights; returns one-line notices for whatever starts from random init."""
        notices = []
        if img_weights:
            load_image_weights(self.image, img_weights, self.config.img_size)
        else:
            notices.append(f"image tower ({self.image.description}) starts from random init (give --img-weights FILE)")
        if txt_model and isinstance(self.text, BertTextTower) and self.config.txt == "bert":
            _, state = read_hf_bert(txt_model)
            load_hf_embeddings(self.text.embeddings, state, txt_model)
            load_hf_layers(self.text.layers, state, 0, txt_model)
            if self.fusion is not None:
                load_hf_layers(self.fusion.layers, state, self.config.txt_layers, txt_model)
        elif self.config.txt == "bert":
            notices.append("text tower starts from random init (give --txt-model DIR, e.g. bert-base-chinese)")
        return notices


class _frozen_batchnorm:
    """Run the model's BatchNorm layers in eval mode (running statistics) inside the block."""

    def __init__(self, model: nn.Module):
        self.layers = [m for m in (model.vision_norm, model.text_norm) if isinstance(m, nn.BatchNorm1d) and m.training]

    def __enter__(self):
        for layer in self.layers:
            layer.eval()

    def __exit__(self, *exc):
        for layer in self.layers:
            layer.train()
        return False


def config_from_hf_bert(config: ModelConfig, folder: str) -> ModelConfig:
    """Adopt the width, heads and vocabulary of a Hugging Face BERT folder (text tower + fusion from its layers).

    Its config.json, vocab.txt and weights (their shapes) are checked here, before anything is written.
    """
    from ..data.tokenize import read_vocab

    hf = read_hf_bert_config(folder)
    check_hf_bert_weights(folder, hf)
    vocab_file = Path(folder) / "vocab.txt"
    vocab = read_vocab(vocab_file)
    if len(vocab) != hf["vocab_size"]:
        raise FormatError(f"holds {len(vocab)} tokens, but config.json has vocab_size {hf['vocab_size']}", vocab_file)
    needed = config.txt_layers + config.fusion_layers
    if hf["num_hidden_layers"] < needed:
        raise ConfigError(
            f"num_hidden_layers: {hf['num_hidden_layers']}, but the model takes {needed} layers from it "
            f"(model.txt_layers {config.txt_layers} + model.fusion_layers {config.fusion_layers})",
            Path(folder) / "config.json",
        )
    config.hidden = hf["hidden_size"]
    config.heads = hf["num_attention_heads"]
    config.intermediate = hf["intermediate_size"]
    config.max_len = min(config.max_len, hf["max_position_embeddings"])
    config.txt_model = str(folder)
    return config
