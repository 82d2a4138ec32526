"""The model core shared by train, evaluate, embed and rank: towers, projections, fusion encoder and heads.

`forward` computes no loss; training, evaluation, embedding and ranking all go through
`encode_image`, `encode_text` and `match`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .bert import Layer, load_hf_embeddings, load_hf_layers, read_hf_bert
from .config import ModelConfig
from .towers import BertTextTower, ImageTower, build_text_tower, load_image_weights


@dataclass
class ImageFeatures:
    tokens: torch.Tensor      # (B, 1 + N_V, C_V) image-tower sequence V
    embedding: torch.Tensor   # (B, C) L2-normalised ITC embedding of v_cls

    @property
    def cls(self) -> torch.Tensor:  # (B, C_V) v_cls
        return self.tokens[:, 0]


@dataclass
class TextFeatures:
    tokens: torch.Tensor      # (B, T, C_T) text-tower sequence W
    mask: torch.Tensor        # (B, T) bool, True for real tokens
    embedding: torch.Tensor   # (B, C) L2-normalised ITC embedding of w_cls


class FusionEncoder(nn.Module):
    """Layers of self-attention + cross-attention (text queries, image keys/values) + FFN; ITM head on [CLS]."""

    def __init__(self, config: ModelConfig, image_width: int):
        super().__init__()
        self.layers = nn.ModuleList(
            Layer(config.hidden, config.heads, config.intermediate, config.dropout, cross_dim=image_width)
            for _ in range(config.fusion_layers))
        self.itm_head = nn.Linear(config.hidden, 2)

    def forward(self, text_tokens, text_mask, image_tokens) -> torch.Tensor:  # -> (B, 2) ITM logits
        x = text_tokens
        for layer in self.layers:
            x = layer(x, text_mask, image=image_tokens)
        return self.itm_head(x[:, 0])


class PBRModel(nn.Module):
    """Image tower, text tower, ITC projections and temperature, fusion + ITM head, optional EKD / TSCL heads."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.image = ImageTower(config)
        self.text = build_text_tower(config, config.vocab_size)
        self.fusion = FusionEncoder(config, self.image.width) if config.fusion_layers > 0 else None
        self.vision_proj = nn.Linear(self.image.width, config.embed_dim)
        self.text_proj = nn.Linear(config.hidden, config.embed_dim)
        temp = torch.tensor(float(config.temp))
        if config.learn_temp:
            self.temp = nn.Parameter(temp)
        else:
            self.register_buffer("temp", temp)
        self.ekd_head = nn.Linear(self.image.width, config.ekd_dim) if config.ekd_dim else None       # W^E (eq. 6)
        self.tscl_head = (nn.Sequential(nn.Linear(self.image.width, self.image.width), nn.ReLU(),
                                        nn.Linear(self.image.width, config.tscl_dim))
                          if config.tscl_dim else None)                                               # psi (§3.3)

    @property
    def temperature(self) -> torch.Tensor:
        return self.temp.clamp(0.001, 0.5)

    def encode_image(self, images: torch.Tensor) -> ImageFeatures:
        """(B, 3, H, W) pixels (uint8 or float 0..255) -> tokens and normalised ITC embedding."""
        tokens = self.image(images)
        return ImageFeatures(tokens, F.normalize(self.vision_proj(tokens[:, 0]), dim=-1))

    def encode_text(self, input_ids: torch.Tensor, mask: torch.Tensor) -> TextFeatures:
        """(B, T) token ids and bool mask -> tokens and normalised ITC embedding."""
        tokens = self.text(input_ids, mask)
        return TextFeatures(tokens, mask, F.normalize(self.text_proj(tokens[:, 0]), dim=-1))

    def match(self, text: TextFeatures | tuple, image_tokens: torch.Tensor) -> torch.Tensor:
        """ITM logits (B, 2) for aligned rows of text and image tokens."""
        if self.fusion is None:
            raise RuntimeError("this model has no fusion encoder (trained with --loss itc)")
        tokens, mask = (text.tokens, text.mask) if isinstance(text, TextFeatures) else text
        return self.fusion(tokens, mask, image_tokens)

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
            notices.append(f"image tower ({self.config.timm_name}) starts from random init (give --img-weights FILE)")
        if txt_model and isinstance(self.text, BertTextTower) and self.config.txt == "bert":
            _, state = read_hf_bert(txt_model)
            load_hf_embeddings(self.text.embeddings, state, txt_model)
            load_hf_layers(self.text.layers, state, 0, txt_model)
            if self.fusion is not None:
                load_hf_layers(self.fusion.layers, state, self.config.txt_layers, txt_model)
        elif self.config.txt == "bert":
            notices.append("text tower starts from random init (give --txt-model DIR, e.g. bert-base-chinese)")
        return notices


def config_from_hf_bert(config: ModelConfig, folder: str) -> ModelConfig:
    """Adopt the width, heads and vocabulary of a Hugging Face BERT folder (text tower + fusion from its layers)."""
    hf, _ = read_hf_bert(folder)
    config.hidden = int(hf.get("hidden_size", config.hidden))
    config.heads = int(hf.get("num_attention_heads", config.heads))
    config.intermediate = int(hf.get("intermediate_size", config.intermediate))
    config.max_len = min(config.max_len, int(hf.get("max_position_embeddings", config.max_len)))
    config.txt_model = str(folder)
    return config
