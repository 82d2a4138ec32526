"""The model core: tower combinations, gradients, tokenisation, checkpoints."""

import pytest
import torch

from helpers import random_batch, tiny_model_config
from pbr_cli.data.tokenize import CharTokenizer, WordTokenizer
from pbr_cli.errors import ConfigError
from pbr_cli.losses.objective import Objective
from pbr_cli.model.config import load_run_config, validate
from pbr_cli.model.pbr import PBRModel

# The five backbone pairs of the paper's Table 1.
PAIRS = [
    ("resnet", "transformer"),
    ("inception", "transformer"),
    ("inception", "gru"),
    ("inception", "lstm"),
    ("vit", "bert"),
]


@pytest.mark.parametrize("img,txt", PAIRS)
def test_every_parameter_receives_a_gradient(img, txt):
    torch.manual_seed(0)
    config = tiny_model_config(img, txt)
    model = PBRModel(config)
    objective = Objective("itm", generator=torch.Generator().manual_seed(0))
    terms = objective(model, random_batch(config))
    assert set(terms) == {"i2t", "t2i", "itm"}
    objective.total(terms).backward()
    missing = [name for name, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert not missing, missing
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())


def test_itc_model_has_no_fusion_and_trains_dual_encoder():
    config = tiny_model_config("vit", "bert")
    config.fusion_layers = 0
    model = PBRModel(config)
    terms = Objective("itc")(model, random_batch(config))
    assert set(terms) == {"i2t", "t2i"}
    assert model.fusion is None


def test_encode_and_match_shapes():
    config = tiny_model_config("vit", "bert")
    model = PBRModel(config).eval()
    batch = random_batch(config)
    image = model.encode_image(batch.images)
    text = model.encode_text(batch.input_ids, batch.mask)
    assert image.tokens.shape == (6, 1 + (32 // 8) ** 2, 32)
    assert torch.allclose(image.embedding.norm(dim=-1), torch.ones(6), atol=1e-5)
    probs = model.match_prob(text, image.tokens[:2])
    assert probs.shape == (2,) and ((probs > 0) & (probs < 1)).all()


def test_cnn_tokens_start_with_the_pooled_feature():
    config = tiny_model_config("resnet", "lstm")
    model = PBRModel(config).eval()
    images = torch.rand(2, 3, 32, 32) * 255
    tokens = model.image(images)
    features = model.image.body.forward_features((images - model.image.mean) / model.image.std)
    assert torch.allclose(tokens[:, 0], features.mean(dim=(2, 3)), atol=1e-5)
    assert tokens.shape[1] == 1 + features.shape[2] * features.shape[3]


def test_truncation_keeps_the_most_recent_turns():
    tokenizer = CharTokenizer()
    context = ["很久以前的话", "中间", "最近一句"]
    ids = tokenizer.encode_dialogue(context, max_len=8)
    assert len(ids) == 8 and ids[0] == tokenizer.cls_id
    assert ids[-1] == tokenizer.sep_id
    recent = tokenizer.encode_utterance("最近一句")
    assert ids[-5:-1] == recent
    full = tokenizer.encode_dialogue(context, max_len=64)
    assert full[:2] == [tokenizer.cls_id, tokenizer.encode_utterance("很")[0]]


def test_char_vocabulary_covers_chinese_without_download():
    tokenizer = CharTokenizer()
    ids = tokenizer.encode_utterance("今天考试过了！OK")
    assert tokenizer.unk_id not in ids
    assert len(tokenizer) > 20000


def test_word_tokenizer_builds_vocab_from_dialogues():
    tokenizer = WordTokenizer.build([["今天天气很好", "我们去公园"], ["今天考试"]])
    assert "今天" in tokenizer.vocab
    assert tokenizer.unk_id not in tokenizer.encode_utterance("今天考试")


@pytest.mark.parametrize("field,value", [("batch_size", 0), ("lr", -1.0), ("weight_decay", -0.1)])
def test_nonsensical_training_values_are_refused(field, value):
    config = load_run_config("tiny")
    setattr(config.train, field, value)
    with pytest.raises(ConfigError):
        validate(config)


def test_unknown_image_tower_is_a_config_error():
    config = tiny_model_config("vit", "bert")
    config.img = "no_such_model_xyz"
    config.img_kwargs = {}
    with pytest.raises(ConfigError, match="unknown image tower"):
        PBRModel(config)


def test_config_file_overrides_and_rejects_unknown_keys(tmp_path):
    good = tmp_path / "small.yaml"
    good.write_text("base: tiny\nmodel:\n  embed_dim: 32\ntrain:\n  batch_size: 2\n", encoding="utf-8")
    config = load_run_config(str(good))
    assert config.model.embed_dim == 32 and config.train.batch_size == 2 and config.name == "small"
    bad = tmp_path / "bad.yaml"
    bad.write_text("model:\n  embed_dimm: 32\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="embed_dimm"):
        load_run_config(str(bad))


def test_config_json_of_an_older_run_with_retired_keys_still_loads():
    from pbr_cli.model.config import run_config_from_dict

    written = load_run_config("tiny").to_dict()
    written["model"]["ekd_mode"] = "anchors"  # a copy of train.ekd, written by pbr 0.1 runs
    written["train"]["workers"] = 0  # never used
    config = run_config_from_dict(written, "config.json")
    assert config.to_dict() == load_run_config("tiny").to_dict()
    with pytest.raises(ConfigError, match="unknown key"):
        run_config_from_dict({**written, "train": {**written["train"], "wrokers": 0}}, "config.json")


def test_fusion_shortcuts_give_the_full_computation():
    """One dialogue against many stickers shares the first self-attention, and the last layer runs for [CLS]
    alone; both must give the numbers of every layer run in full on materialised rows."""
    import torch

    from pbr_cli.data.tokenize import CharTokenizer
    from pbr_cli.model.config import load_run_config
    from pbr_cli.model.pbr import PBRModel

    torch.manual_seed(0)
    config = load_run_config("tiny").model
    config.vocab_size = len(CharTokenizer())
    model = PBRModel(config).eval()
    rows, length = 12, 20
    tokens = torch.randn(1, length, config.hidden)
    mask = torch.ones(1, length, dtype=torch.bool)
    mask[0, 15:] = False
    image = torch.randn(rows, 5, model.fusion.layers[0].cross_attn.key.in_features)
    with torch.no_grad():
        full_tokens, full_mask = tokens.expand(rows, -1, -1).contiguous(), mask.expand(rows, -1).contiguous()
        x = full_tokens
        for layer in model.fusion.layers:
            x = layer(x, full_mask, image=image)
        pair = model.text_embedding(full_tokens, full_mask) * model.image_embedding(image) / model.temperature
        reference = model.fusion.itm_head(torch.cat([x[:, 0], pair], dim=-1))
        shared = model.match((tokens.expand(rows, -1, -1), mask.expand(rows, -1)), image)
        materialised = model.match((full_tokens, full_mask), image)
    assert torch.allclose(shared, reference, atol=1e-5) and torch.allclose(materialised, reference, atol=1e-5)
    assert not torch.allclose(reference[:1], reference[1:2], atol=1e-4)  # the rows differ: a real check
