"""The two towers: a timm image adapter (token sequence V) and text towers (BERT-style, LSTM, GRU, Transformer)."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from ..errors import ConfigError, FormatError
from .bert import Embeddings, Layer
from .config import ModelConfig


class ImageTower(nn.Module):
    """Any timm model as a token sequence `V = {v_cls, v_1..}` (B, 1 + N_V, C_V).

    Transformers give their last layer's tokens; CNNs give the globally pooled feature as `v_cls`
    followed by the flattened last feature map.
    """

    def __init__(self, config: ModelConfig):
        super().__init__()
        import timm

        name = config.timm_name
        if not timm.is_model(name):
            raise ConfigError(
                f"unknown image tower {config.img!r} (--img: vit, resnet, inception or a timm model name)"
            )
        reserved = sorted({"pretrained", "num_classes", "img_size"} & set(config.img_kwargs))
        if reserved:
            raise ConfigError(f"model.img_kwargs: {reserved[0]} is set by pbr, not by img_kwargs")
        if config.img_kwargs.get("in_chans", 3) != 3:
            raise ConfigError(
                f"model.img_kwargs: in_chans must be 3 (stickers are RGB), got {config.img_kwargs['in_chans']!r}"
            )
        kwargs = dict(pretrained=False, num_classes=0, **config.img_kwargs)
        try:
            try:
                self.body = timm.create_model(name, img_size=config.img_size, **kwargs)
            except TypeError:
                self.body = timm.create_model(name, **kwargs)
        except Exception as exc:
            reason = (str(exc).splitlines() or [exc.__class__.__name__])[0]
            raise ConfigError(
                f"cannot build image tower {name!r} with model.img_kwargs {config.img_kwargs}: {reason}"
            ) from None
        self.description = ", ".join([name, *(f"{key}={value}" for key, value in config.img_kwargs.items())])
        self.width = int(self.body.num_features)  # C_V
        data_config = timm.data.resolve_data_config({}, model=self.body)
        self.register_buffer("mean", torch.tensor(data_config["mean"]).view(1, 3, 1, 1) * 255, persistent=False)
        self.register_buffer("std", torch.tensor(data_config["std"]).view(1, 3, 1, 1) * 255, persistent=False)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) uint8 or float in 0..255 -> (B, 1 + N_V, C_V)."""
        # channels-last pixels: oneDNN / cuDNN convolutions run ~1.4x faster in fp32 and ~2x in bf16 with them
        x = ((images.float() - self.mean) / self.std).contiguous(memory_format=torch.channels_last)
        features = self.body.forward_features(x)
        if features.ndim == 4:  # CNN: (B, C, h, w)
            pooled = features.mean(dim=(2, 3))
            return torch.cat([pooled[:, None], features.flatten(2).transpose(1, 2)], dim=1)
        return features  # ViT: (B, 1 + N, C)


def load_image_weights(tower: ImageTower, path: str | Path, img_size: int) -> None:
    """Load a timm checkpoint, or the visual encoder of an ALBEF checkpoint, resizing position embeddings."""
    from .weights import read_state_dict

    state = read_state_dict(path)
    if any(k.startswith("visual_encoder.") for k in state):
        state = {k.removeprefix("visual_encoder."): v for k, v in state.items() if k.startswith("visual_encoder.")}
    own = tower.body.state_dict()
    if "pos_embed" in state and "pos_embed" in own and state["pos_embed"].shape != own["pos_embed"].shape:
        from timm.layers import resample_abs_pos_embed

        prefix = getattr(tower.body, "num_prefix_tokens", 1)
        grid = tower.body.patch_embed.grid_size
        source = state["pos_embed"]
        try:
            if source.ndim != 3 or source.shape[-1] != own["pos_embed"].shape[-1]:
                raise ValueError
            state["pos_embed"] = resample_abs_pos_embed(source, new_size=list(grid), num_prefix_tokens=prefix)
        except Exception:
            raise FormatError(
                f"pos_embed has shape {tuple(source.shape)}, which cannot be resized to "
                f"{tuple(own['pos_embed'].shape)}",
                path,
            ) from None
    state = {k: v for k, v in state.items() if k in own}
    mismatched = [k for k, v in state.items() if v.shape != own[k].shape]
    if mismatched:
        raise FormatError(
            f"image weights do not fit the {tower.body.__class__.__name__} tower: {mismatched[0]} "
            f"has shape {tuple(state[mismatched[0]].shape)}, expected "
            f"{tuple(own[mismatched[0]].shape)}",
            path,
        )
    missing = [k for k in own if k not in state]
    if len(missing) == len(own):
        raise FormatError("no image-tower weights found in the checkpoint", path)
    own.update(state)
    tower.body.load_state_dict(own)


class BertTextTower(nn.Module):
    """Embeddings and the first `txt_layers` BERT layers (also the word-level `transformer` tower)."""

    def __init__(self, config: ModelConfig, vocab_size: int, input_dim: int | None = None):
        super().__init__()
        self.embeddings = Embeddings(vocab_size, config.hidden, config.max_len, config.dropout, input_dim)
        self.layers = nn.ModuleList(
            Layer(config.hidden, config.heads, config.intermediate, config.dropout) for _ in range(config.txt_layers)
        )
        self.width = config.hidden

    def forward(self, input_ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:  # -> (B, T, C_T)
        x = self.embeddings(input_ids)
        for layer in self.layers:
            x = layer(x, mask)
        return x


class RNNTextTower(nn.Module):
    """Bidirectional LSTM / GRU over word embeddings; `w_cls` (position 0) = mean of the word features."""

    def __init__(self, config: ModelConfig, vocab_size: int):
        super().__init__()
        if config.hidden % 2:
            raise ConfigError(f"the {config.txt} tower needs an even hidden size, got {config.hidden}")
        self.embeddings = nn.Embedding(vocab_size, config.word_dim, padding_idx=0)
        rnn = nn.LSTM if config.txt == "lstm" else nn.GRU
        self.rnn = rnn(
            config.word_dim,
            config.hidden // 2,
            num_layers=config.txt_layers,
            batch_first=True,
            bidirectional=True,
            dropout=config.dropout if config.txt_layers > 1 else 0.0,
        )
        self.width = config.hidden

    def forward(self, input_ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        lengths = mask.sum(1).clamp(min=1).cpu()
        packed = nn.utils.rnn.pack_padded_sequence(
            self.embeddings(input_ids), lengths, batch_first=True, enforce_sorted=False
        )
        out, _ = self.rnn(packed)
        out, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=input_ids.shape[1])
        weights = mask[:, 1:, None].to(out.dtype)  # words, [CLS] excluded
        w_cls = (out[:, 1:] * weights).sum(1) / weights.sum(1).clamp(min=1)
        return torch.cat([w_cls[:, None], out[:, 1:]], dim=1)  # (B, T, C_T)


def build_text_tower(config: ModelConfig, vocab_size: int) -> nn.Module:
    if config.txt == "bert":
        return BertTextTower(config, vocab_size)
    if config.txt == "transformer":
        return BertTextTower(config, vocab_size, input_dim=config.word_dim)
    if config.txt in ("lstm", "gru"):
        return RNNTextTower(config, vocab_size)
    raise ConfigError(f"unknown text tower {config.txt!r} (bert, lstm, gru, transformer)")


def load_word_vectors(embedding: nn.Embedding, vocab: list[str], path: str | Path) -> int:
    """Initialise rows of `embedding` from a word2vec text file; returns how many vocabulary words were found."""
    path = Path(path)
    index = {word: i for i, word in enumerate(vocab)}
    found = 0
    weight = embedding.weight.data
    try:
        with open(path, encoding="utf-8", errors="strict") as handle:
            for line_number, line in enumerate(handle, 1):
                parts = line.rstrip().split(" ")
                if line_number == 1 and len(parts) == 2:
                    continue  # "count dim" header
                if parts[0] not in index:
                    continue
                if len(parts) - 1 != weight.shape[1]:
                    raise FormatError(
                        f"line {line_number}: vector of size {len(parts) - 1}, expected "
                        f"{weight.shape[1]} (set model.word_dim)",
                        path,
                    )
                weight[index[parts[0]]] = torch.tensor([float(v) for v in parts[1:]])
                found += 1
    except UnicodeDecodeError:
        raise FormatError("word vectors are not UTF-8 text", path) from None
    except ValueError:
        raise FormatError("word vectors contain a non-numeric value", path) from None
    except OSError as exc:
        raise FormatError(f"cannot read word vectors ({exc.strerror})", path) from None
    return found
