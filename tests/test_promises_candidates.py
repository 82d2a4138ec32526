"""README: a record without fixed candidates gets its truth plus 9 other stickers of its topic, "drawn with a
seed derived from the record id, so every run and machine sees the same sets". A golden file pins the ids:
a change of the seed derivation, the sampler or the fill from other topics changes them on every machine."""

from __future__ import annotations

import json
from pathlib import Path

from fixtures_data import save_image, write_jsonl
from pbr_cli.data import open_dataset
from pbr_cli.data.candidates import draw_candidates

GOLDEN = Path(__file__).parent / "fixtures" / "candidates_golden.json"


def write_dataset(root: Path) -> Path:
    """Topic "big" has 14 stickers (9 negatives drawn from 13), topic "small" has 6 (filled from "big")."""
    stickers = [(f"big{i}", "big") for i in range(14)] + [(f"small{i}", "small") for i in range(6)]
    for index, (sticker_id, _) in enumerate(stickers):
        save_image(root / "img" / f"{sticker_id}.png", index)
    write_jsonl(
        root / "stickers.jsonl",
        [{"id": sticker_id, "path": f"img/{sticker_id}.png", "topic": topic} for sticker_id, topic in stickers],
    )
    for split, count in (("train", 6), ("val", 3), ("test", 3)):
        write_jsonl(
            root / f"{split}.jsonl",
            [
                {
                    "id": f"{split}-{i}",
                    "context": ["你好", "在吗"],
                    "sticker": stickers[(7 * i + len(split)) % len(stickers)][0],
                }
                for i in range(count)
            ],
        )
    return root


def candidate_sets(root: Path) -> dict:
    dataset = open_dataset(root)
    sets = {split: {d.id: d.candidates for d in dialogues} for split, dialogues in dataset.splits.items()}
    library = [f"s{i:03d}" for i in range(120)]  # large: the fill draws by rejection
    draws = {
        "large-library-fill": draw_candidates("r1", "s000", ["s000", "s001", "s002"], library),
        "same-topic": draw_candidates("r2", "s005", library[:30], library),
    }
    return {
        "sets": sets,
        "filled_from_other_topics": dataset.filled_from_other_topics,
        "draws": {name: {"candidates": c, "filled": filled} for name, (c, filled) in draws.items()},
    }


def test_candidate_sets_match_the_golden_file(tmp_path):
    assert candidate_sets(write_dataset(tmp_path / "data")) == json.loads(GOLDEN.read_text(encoding="utf-8"))


def test_golden_sets_are_well_formed():
    """What the golden file holds is what the README promises: 10 distinct ids, the own topic first, filled from
    other topics only where the topic is too small."""
    golden = json.loads(GOLDEN.read_text(encoding="utf-8"))
    filled = 0
    for split in golden["sets"].values():
        for candidates in split.values():
            assert len(candidates) == len(set(candidates)) == 10
            small = sum(c.startswith("small") for c in candidates)
            assert small in (0, 6)  # all "big", or all 6 "small" + 4 "big"
            filled += small == 6
    assert 0 < filled == golden["filled_from_other_topics"] < sum(len(split) for split in golden["sets"].values())
    fill, same = golden["draws"]["large-library-fill"], golden["draws"]["same-topic"]
    assert fill["filled"] and {"s000", "s001", "s002"} <= set(fill["candidates"]) and len(set(fill["candidates"])) == 10
    assert not same["filled"] and all(int(c[1:]) < 30 for c in same["candidates"]) and "s005" in same["candidates"]


if __name__ == "__main__":  # regenerate: python tests/test_promises_candidates.py (only for an intended change)
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        GOLDEN.write_text(
            json.dumps(candidate_sets(write_dataset(Path(folder) / "data")), indent=1) + "\n", encoding="utf-8"
        )
