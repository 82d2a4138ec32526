"""The training objective (eq. 10): which loss terms run on a batch, and their weights."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from .itc import i2t_loss, t2i_loss
from .itm import itm_loss, sample_negatives


@dataclass
class Batch:
    """One training step's inputs, already on the device."""

    images: torch.Tensor          # (K*n, 3, R, R) augmented candidate images, candidate-major per dialogue
    input_ids: torch.Tensor       # (K, T)
    mask: torch.Tensor            # (K, T) bool
    label: torch.Tensor           # (K,) position of the truth in each candidate set
    candidate_ids: torch.Tensor   # (K, n) library indices of the candidates (to mask duplicates of the truth)
    extras: dict = field(default_factory=dict)  # per-component inputs (teacher features, polarity, second views)


@dataclass
class Objective:
    """L = L_I2T + L_T2I + L_SDM (+ weighted extra terms added by the PBR components)."""

    loss: str = "itm"                                       # itm | itc
    weights: dict = field(default_factory=dict)             # extra term name -> weight
    generator: torch.Generator | None = None

    def __call__(self, model, batch: Batch) -> dict[str, torch.Tensor]:
        k, n = batch.candidate_ids.shape
        image = model.encode_image(batch.images)
        text = model.encode_text(batch.input_ids, batch.mask)
        rows = torch.arange(k, device=batch.label.device)
        candidates = image.embedding.view(k, n, -1)                                   # (K, n, C)
        positive = candidates[rows, batch.label]                                      # (K, C)
        temperature = model.temperature
        terms = {"i2t": i2t_loss(positive, text.embedding, temperature),
                 "t2i": t2i_loss(text.embedding, candidates, batch.label, temperature)}
        if self.loss == "itm":
            terms["itm"] = self.matching_loss(model, batch, image, text, candidates, positive, temperature)
        context = {"image": image, "text": text, "candidates": candidates, "positive": positive}
        for name, term in self.extra_terms(model, batch, context).items():
            terms[name] = term
        return terms

    def total(self, terms: dict[str, torch.Tensor]) -> torch.Tensor:
        return sum(self.weights.get(name, 1.0) * value for name, value in terms.items())

    def extra_terms(self, model, batch: Batch, context: dict) -> dict[str, torch.Tensor]:
        """Hook for EKD / TSCL terms; the Base objective has none."""
        return {}

    def negative_weights(self, batch: Batch, text, candidates, positive, temperature):
        """Semantic hard mining (ALBEF): similarity scores and masks for a negative sticker per dialogue
        (over its own candidates) and a negative dialogue per ground-truth sticker (over the batch)."""
        k, n = batch.candidate_ids.shape
        truth_ids = batch.candidate_ids[torch.arange(k, device=batch.label.device), batch.label]   # (K,)
        sim_t2i = torch.einsum("kc,knc->kn", text.embedding, candidates) / temperature            # (K, n)
        mask_t2i = batch.candidate_ids == truth_ids[:, None]
        sim_i2t = positive @ text.embedding.t() / temperature                                      # (K, K)
        mask_i2t = truth_ids[:, None] == truth_ids[None, :]
        return (sim_t2i, mask_t2i, None), (sim_i2t, mask_i2t)

    def matching_loss(self, model, batch, image, text, candidates, positive, temperature) -> torch.Tensor:
        """Eq. 5 on K positive pairs, K (dialogue, negative sticker) and up to K (negative dialogue, sticker)."""
        k, n = batch.candidate_ids.shape
        rows = torch.arange(k, device=batch.label.device)
        tokens = image.tokens.view(k, n, *image.tokens.shape[1:])                              # (K, n, L, C_V)
        positive_tokens = tokens[rows, batch.label]                                            # (K, L, C_V)
        with torch.no_grad():
            (sim_t2i, mask_t2i, pool), (sim_i2t, mask_i2t) = self.negative_weights(
                batch, text, candidates, positive, temperature)
            negative_sticker = sample_negatives(sim_t2i, mask_t2i, self.generator)
            has_negative_text = (~mask_i2t).any(1)
            negative_text = sample_negatives(sim_i2t[has_negative_text], mask_i2t[has_negative_text], self.generator)
        if pool is None:
            negative_tokens = tokens[rows, negative_sticker]                                   # own candidate set
        else:
            negative_tokens = tokens.flatten(0, 1)[negative_sticker]                           # batch-wide pool
        sticker_rows = rows[has_negative_text]
        text_tokens = torch.cat([text.tokens, text.tokens, text.tokens[negative_text]])
        text_mask = torch.cat([text.mask, text.mask, text.mask[negative_text]])
        image_tokens = torch.cat([positive_tokens, negative_tokens, positive_tokens[sticker_rows]])
        logits = model.match((text_tokens, text_mask), image_tokens)
        return itm_loss(logits[:k], logits[k:])
