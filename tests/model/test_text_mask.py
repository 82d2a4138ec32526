"""train.text_mask: the training batches' dialogue tokens, masked or not; validation never masks."""

import numpy as np
import torch

from pbr_cli.data.cache import sticker_image_cache
from pbr_cli.data.pbrfolder import read_pbr_dataset
from pbr_cli.data.tokenize import CharTokenizer
from pbr_cli.engine import Trainer, prepare_data
from pbr_cli.model.config import load_run_config
from pbr_cli.model.pbr import PBRModel
from synthetic import write_tiny_dataset


def trainer_with(tmp_path, dataset, text_mask: float) -> Trainer:
    config = load_run_config("tiny")
    config.model.img_size = 32
    config.train.batch_size, config.train.steps, config.train.text_mask = 8, 2, text_mask
    tokenizer = CharTokenizer()
    config.model.vocab_size = len(tokenizer)
    torch.manual_seed(0)
    model = PBRModel(config.model)
    data = prepare_data(dataset, tokenizer, config, sticker_image_cache(list(dataset.stickers.values()), 32))
    run = tmp_path / f"run{text_mask}"
    run.mkdir()
    return Trainer(model, config, data, tokenizer, run, torch.device("cpu"), seed=0)


def test_text_mask_replaces_a_share_of_the_dialogue_tokens_by_mask(tmp_path):
    dataset = read_pbr_dataset(write_tiny_dataset(tmp_path / "data", n_train=16, n_val=4, n_test=4))
    plain, masked = trainer_with(tmp_path, dataset, 0.0), trainer_with(tmp_path, dataset, 0.5)
    tokenizer = plain.tokenizer
    mask_id = tokenizer.index["[MASK]"]
    rows = np.arange(8)
    reference = plain.make_batch(rows)
    batch = masked.make_batch(rows)
    assert torch.equal(batch.mask, reference.mask)
    changed = batch.input_ids != reference.input_ids
    assert changed.any() and torch.all(batch.input_ids[changed] == mask_id)
    unchanged = reference.input_ids[~changed]
    assert not (reference.input_ids == mask_id).any()
    # [CLS], [SEP] and padding are never masked; about half of the other tokens are
    specials = (reference.input_ids == tokenizer.cls_id) | (reference.input_ids == tokenizer.sep_id) | ~reference.mask
    assert not (changed & specials).any()
    share = changed.sum().item() / (~specials).sum().item()
    assert 0.3 < share < 0.7, share
    assert unchanged.numel() > 0
    # the next step draws new positions
    assert not torch.equal(masked.make_batch(rows).input_ids, batch.input_ids)
    # off, the tokens are the dialogues' own, step after step
    assert torch.equal(plain.make_batch(rows).input_ids, reference.input_ids)
