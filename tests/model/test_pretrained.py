"""Pretrained weights load only from paths the user gives: a Hugging Face BERT folder and a timm / ALBEF file."""

import torch

from pbr_cli.data.tokenize import WordPieceTokenizer
from pbr_cli.model.config import load_run_config
from pbr_cli.model.pbr import PBRModel, config_from_hf_bert


def write_bert_folder(folder, layers=3, hidden=32):
    from transformers import BertConfig, BertModel

    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + list("你好今天考试过了我想要猫") + ["ok"]
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
    )
    torch.manual_seed(0)
    bert = BertModel(config, add_pooling_layer=False)
    bert.save_pretrained(folder)
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    return bert


def test_bert_folder_fills_text_tower_and_fusion_by_name(tmp_path):
    bert = write_bert_folder(tmp_path / "bert")
    config = load_run_config("tiny").model
    config.img, config.img_size = "vit", 32
    config.img_kwargs = {"patch_size": 8, "embed_dim": 32, "depth": 1, "num_heads": 2}
    config.txt_layers, config.fusion_layers = 2, 1
    config_from_hf_bert(config, str(tmp_path / "bert"))
    tokenizer = WordPieceTokenizer.from_folder(tmp_path / "bert")
    config.vocab_size = len(tokenizer)
    model = PBRModel(config)
    notices = model.load_pretrained(txt_model=str(tmp_path / "bert"))
    assert not any("text tower" in n for n in notices)
    state = bert.state_dict()
    assert torch.equal(model.text.embeddings.word.weight, state["embeddings.word_embeddings.weight"])
    assert torch.equal(
        model.text.layers[1].self_attn.query.weight, state["encoder.layer.1.attention.self.query.weight"]
    )
    # the fusion takes the layers after the text tower's; its cross-attention is new
    assert torch.equal(
        model.fusion.layers[0].self_attn.query.weight, state["encoder.layer.2.attention.self.query.weight"]
    )
    assert torch.equal(model.fusion.layers[0].output.weight, state["encoder.layer.2.output.dense.weight"])
    # the text tower computes what BERT computes for the same layers
    ids = torch.tensor([tokenizer.encode_dialogue(["你好", "今天考试过了"], 32)])
    mask = torch.ones_like(ids, dtype=torch.bool)
    model.eval()
    bert.eval()
    ours = model.text(ids, mask)
    theirs = bert(input_ids=ids, attention_mask=mask.long(), output_hidden_states=True).hidden_states[2]
    assert torch.allclose(ours, theirs, atol=1e-5)


def test_timm_checkpoint_loads_into_the_image_tower(tmp_path):
    import timm

    config = load_run_config("tiny").model
    config.img, config.img_size = "vit", 32
    config.img_kwargs = {"patch_size": 8, "embed_dim": 32, "depth": 1, "num_heads": 2}
    config.vocab_size = 50
    source = timm.create_model(
        "vit_base_patch16_224",
        pretrained=False,
        num_classes=0,
        img_size=64,
        patch_size=8,
        embed_dim=32,
        depth=1,
        num_heads=2,
    )
    # an ALBEF-style file: the visual encoder under its prefix, position embeddings for another image size
    torch.save({"model": {f"visual_encoder.{k}": v for k, v in source.state_dict().items()}}, tmp_path / "albef.pth")
    model = PBRModel(config)
    notices = model.load_pretrained(img_weights=str(tmp_path / "albef.pth"))
    assert not any("image tower" in n for n in notices)
    assert torch.equal(model.image.body.blocks[0].attn.qkv.weight, source.blocks[0].attn.qkv.weight)
    assert model.image.body.pos_embed.shape == (1, 1 + 16, 32)  # resized from 8x8 to 4x4 patches


def test_random_init_is_announced_and_nothing_is_downloaded(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    config = load_run_config("tiny").model
    config.img_size, config.vocab_size = 32, 50
    notices = PBRModel(config).load_pretrained()
    assert any("random init" in n for n in notices)
