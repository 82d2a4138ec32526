"""The training objective (eq. 10): which loss terms run on a batch, their weights, and how negatives are mined.

L = L_I2T + L_T2I + L_SDM + α·L_EKD + β·L_Intra + γ·L_Inter
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from ..emotions import fold_emotions
from .ekd import feature_distillation_loss, kl_distillation_loss
from .itc import i2t_loss, t2i_loss
from .itm import has_negative, itm_loss, list_loss, sample_negative_sets, sample_negatives
from .phsm import phsm_scores, polarity_similarity, sticker_polarity
from .tscl import inter_topic_loss, intra_topic_loss


@dataclass
class Batch:
    """One training step's inputs, already on the device."""

    images: torch.Tensor  # (K*n, 3, R, R) augmented candidate images, candidate-major per dialogue
    input_ids: torch.Tensor  # (K, T)
    mask: torch.Tensor  # (K, T) bool
    label: torch.Tensor  # (K,) position of the truth in each candidate set
    candidate_ids: torch.Tensor  # (K, n) library indices of the candidates (to mask copies of the truth)
    # Inputs of the PBR components, None when their component is off:
    ekd_target: torch.Tensor | None = None  # (K*n, D) EKD target of each candidate
    view2: torch.Tensor | None = None  # (K*n, 3, R, R) second augmented view, for TSCL
    dialogue_polarity: torch.Tensor | None = None  # (K, 2) [pos, neg] of each dialogue (sentiment file)
    sticker_polarity: torch.Tensor | None = None  # (K*n, 2) [P^I, N^I] of each candidate from the teacher


@dataclass
class Objective:
    """Loss terms and their weights. The defaults are the Base model (ITC + ITM with semantic hard negatives)."""

    loss: str = "itm"  # itm (ITC + ITM) | itc (CLIP-style dual encoder)
    negatives: str = "semantic"  # semantic (ALBEF) | phsm (Algorithm 1) | random
    ekd: str = "off"  # anchors | logits | features | off
    ekd_weight: float = 0.5  # α
    ekd_m: int = 0  # anchors per emotion (folds the student head for PHSM)
    intra_weight: float = 0.0  # β (0 = off)
    inter_weight: float = 0.0  # γ (0 = off)
    tscl_temperature: float = 0.1
    tscl_stop_grad: bool = False  # the second view's image-tower pass without gradient
    phsm_emotion: str = "teacher"  # teacher (pseudo-labels) | student (EKD head)
    phsm_weight: float = 1.0  # scale of softmax(SEN) added to SIM
    phsm_pool: str = "batch"  # batch (all K·n candidates, Algorithm 1) | own (the dialogue's candidates)
    itm_negatives: int = 1  # negative stickers per dialogue in the ITM pairs (ALBEF/PBR: 1)
    itm_list_weight: float = 0.0  # weight of the listwise ITM term over each dialogue's pairs (0 = off)
    generator: torch.Generator | None = None
    weights: dict = field(default_factory=dict)

    def __post_init__(self):
        self.weights = {
            "ekd": self.ekd_weight,
            "intra": self.intra_weight,
            "inter": self.inter_weight,
            "itm_list": self.itm_list_weight,
            **self.weights,
        }

    def __call__(self, model, batch: Batch) -> dict[str, torch.Tensor]:
        k, n = batch.candidate_ids.shape
        image = model.encode_image(batch.images)
        text = model.encode_text(batch.input_ids, batch.mask)
        rows = torch.arange(k, device=batch.label.device)
        candidates = image.embedding.view(k, n, -1)  # (K, n, C)
        positive = candidates[rows, batch.label]  # (K, C)
        temperature = model.temperature
        from ..runtime import gather_with_grad, world

        all_text = gather_with_grad(text.embedding)  # (K_global, C)
        terms = {
            "i2t": i2t_loss(
                positive, all_text, temperature, offset=world()[0] * k if all_text is not text.embedding else 0
            ),
            "t2i": t2i_loss(text.embedding, candidates, batch.label, temperature),
        }
        student_logits = model.ekd_head(image.cls) if model.ekd_head is not None else None  # (K*n, D)
        if self.ekd != "off":
            target = batch.ekd_target
            if self.ekd == "features":
                terms["ekd"] = feature_distillation_loss(student_logits, target)
            else:
                terms["ekd"] = kl_distillation_loss(student_logits, target)
        if self.intra_weight or self.inter_weight:
            view1 = model.tscl_head(image.cls)  # (K*n, d)
            with torch.set_grad_enabled(torch.is_grad_enabled() and not self.tscl_stop_grad):
                second = model.image(batch.view2)[:, 0]  # (K*n, C_V) v_cls
            view2 = model.tscl_head(second)
            ids = batch.candidate_ids.reshape(-1)
            if self.intra_weight:
                terms["intra"] = intra_topic_loss(
                    view1.view(k, n, -1), view2.view(k, n, -1), self.tscl_temperature, batch.candidate_ids
                )
            if self.inter_weight:
                terms["inter"] = inter_topic_loss(view1, view2, self.tscl_temperature, ids)
        if self.loss == "itm":
            terms.update(
                self.matching_loss(model, batch, image, text, candidates, positive, temperature, student_logits)
            )
        return terms

    def total(self, terms: dict[str, torch.Tensor]) -> torch.Tensor:
        return sum(self.weights.get(name, 1.0) * value for name, value in terms.items())

    # -- hard negatives --------------------------------------------------------------------------
    def candidate_polarity(self, batch: Batch, student_logits) -> torch.Tensor:
        """(K*n, 2) sticker polarity of every candidate: teacher pseudo-labels or the student's EKD head."""
        if self.phsm_emotion == "student":
            per_emotion = fold_emotions(student_logits.detach().float(), self.ekd_m)  # (K*n, 7)
            return sticker_polarity(per_emotion)
        return batch.sticker_polarity

    def mining_scores(self, batch: Batch, text, candidates, positive, temperature, student_logits):
        """Sampling logits and masks: a negative sticker per dialogue, a negative dialogue per sticker.

        semantic / random: the sticker comes from the dialogue's own candidates; phsm: from all K·n
        candidates of the batch (or, with phsm_pool own, the dialogue's own), with SIM + softmax(SEN)
        (Algorithm 1). Copies of the truth are masked.
        """
        k, n = batch.candidate_ids.shape
        rows = torch.arange(k, device=batch.label.device)
        truth_ids = batch.candidate_ids[rows, batch.label]  # (K,)
        sim_i2t = positive @ text.embedding.t() / temperature  # (K, K)
        mask_i2t = truth_ids[:, None] == truth_ids[None, :]
        pool = "batch" if self.negatives == "phsm" and self.phsm_pool == "batch" else "own"
        if pool == "batch":
            pool_ids = batch.candidate_ids.reshape(-1)  # (K*n,)
            sim_t2i = text.embedding @ candidates.reshape(k * n, -1).t() / temperature  # (K, K*n)
            mask_t2i = pool_ids[None, :] == truth_ids[:, None]
        else:
            sim_t2i = torch.einsum("kc,knc->kn", text.embedding, candidates) / temperature  # (K, n)
            mask_t2i = batch.candidate_ids == truth_ids[:, None]
        if self.negatives == "phsm":
            dialogue_polarity = batch.dialogue_polarity  # (K, 2)
            sticker_pol = self.candidate_polarity(batch, student_logits)  # (K*n, 2)
            sentiment = polarity_similarity(dialogue_polarity, sticker_pol)  # (K, K*n)
            if pool == "own":
                sentiment = sentiment.view(k, k, n)[rows, rows]  # (K, n)
            positive_pol = sticker_pol.view(k, n, 2)[rows, batch.label]  # (K, 2)
            sim_t2i = phsm_scores(sim_t2i, sentiment, self.phsm_weight)
            sim_i2t = phsm_scores(sim_i2t, polarity_similarity(positive_pol, dialogue_polarity), self.phsm_weight)
        elif self.negatives == "random":
            sim_t2i, sim_i2t = torch.zeros_like(sim_t2i), torch.zeros_like(sim_i2t)
        return (sim_t2i, mask_t2i, pool), (sim_i2t, mask_i2t)

    def matching_loss(self, model, batch, image, text, candidates, positive, temperature, student_logits=None):
        """Eq. 5 on K positive pairs, K·m (dialogue, negative sticker) and K (negative dialogue, sticker) pairs,
        with no host synchronisation: {"itm": ...}, and {"itm_list": ...} when the listwise term is on.

        With m > 1 negative stickers per dialogue (drawn without replacement) each weighs 1/m in the binary
        loss, so positives and negatives keep ALBEF's 1 : 2; the listwise term ranks each dialogue's positive
        above its m negatives by the match margin, as ranking a candidate set does.
        """
        k, n = batch.candidate_ids.shape
        rows = torch.arange(k, device=batch.label.device)
        tokens = image.tokens.view(k, n, *image.tokens.shape[1:])  # (K, n, L, C_V)
        positive_tokens = tokens[rows, batch.label]  # (K, L, C_V)
        with torch.no_grad():
            (sim_t2i, mask_t2i, pool), (sim_i2t, mask_i2t) = self.mining_scores(
                batch, text, candidates, positive, temperature, student_logits
            )
            if self.itm_negatives == 1:  # the paper's draw, with the same random numbers as before the option
                negative_sticker = sample_negatives(sim_t2i, mask_t2i, self.generator)[:, None]  # (K, 1)
                sticker_valid = has_negative(mask_t2i)[:, None]
            else:
                negative_sticker, sticker_valid = sample_negative_sets(
                    sim_t2i, mask_t2i, self.itm_negatives, self.generator
                )  # (K, m), (K, m)
            negative_text = sample_negatives(sim_i2t, mask_i2t, self.generator)
            m = negative_sticker.shape[1]
            # a sticker whose every batch dialogue shares its truth has no negative dialogue: weighted out
            weight = torch.cat([sticker_valid.flatten().float() / m, has_negative(mask_i2t).float()])
        if pool == "own":
            negative_tokens = tokens[rows[:, None], negative_sticker].flatten(0, 1)  # own candidate set
        else:
            negative_tokens = tokens.flatten(0, 1)[negative_sticker.flatten()]  # batch-wide pool
        text_tokens = torch.cat([text.tokens, text.tokens.repeat_interleave(m, 0), text.tokens[negative_text]])
        text_mask = torch.cat([text.mask, text.mask.repeat_interleave(m, 0), text.mask[negative_text]])
        image_tokens = torch.cat([positive_tokens, negative_tokens, positive_tokens])
        logits = model.match((text_tokens, text_mask), image_tokens)
        terms = {"itm": itm_loss(logits[:k], logits[k:], weight)}
        if self.itm_list_weight:
            terms["itm_list"] = list_loss(logits[:k], logits[k : k + k * m].view(k, m, 2), sticker_valid)
        return terms
