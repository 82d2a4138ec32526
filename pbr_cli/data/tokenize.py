"""Dialogue tokenisation: character vocab (no download), a BERT WordPiece vocab from a folder, jieba words.

Every tokenizer turns a dialogue into `[CLS] u1 [SEP] u2 [SEP] ... un [SEP]`; when that is longer
than `max_len`, the oldest tokens are dropped so that the most recent turns are kept.
"""

from __future__ import annotations

import json
import unicodedata
from collections import Counter
from pathlib import Path
from typing import Iterable, Sequence

from ..errors import ConfigError, FormatError

SPECIALS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


def _char_vocab() -> list[str]:
    """Specials, printable ASCII (lower case), common CJK/full-width punctuation, CJK Unified Ideographs."""
    chars: list[str] = list(SPECIALS)
    chars += [chr(c) for c in range(0x21, 0x7F) if not ("A" <= chr(c) <= "Z")]
    chars += [chr(c) for c in range(0x3000, 0x3040)]  # CJK symbols and punctuation
    chars += [chr(c) for c in range(0xFF01, 0xFF5F)]  # full-width forms
    chars += ["…", "—", "～", "·", "“", "”", "‘", "’"]
    chars += [chr(c) for c in range(0x4E00, 0xA000)]  # CJK Unified Ideographs
    seen: set[str] = set()
    return [c for c in chars if not (c in seen or seen.add(c))]


class Tokenizer:
    """Shared dialogue encoding over a per-utterance `encode_utterance`."""

    kind = "base"

    def __init__(self, vocab: Sequence[str]):
        self.vocab = list(vocab)
        self.index = {token: i for i, token in enumerate(self.vocab)}
        for special in ("[PAD]", "[UNK]", "[CLS]", "[SEP]"):
            if special not in self.index:
                raise FormatError(f"vocabulary lacks the special token {special}")
        self.pad_id = self.index["[PAD]"]
        self.unk_id = self.index["[UNK]"]
        self.cls_id = self.index["[CLS]"]
        self.sep_id = self.index["[SEP]"]
        self._cache: dict[str, list[int]] = {}

    def __len__(self) -> int:
        return len(self.vocab)

    def encode_utterance(self, text: str) -> list[int]:
        raise NotImplementedError

    def _cached(self, text: str) -> list[int]:
        ids = self._cache.get(text)
        if ids is None:
            ids = self.encode_utterance(text)
            if len(self._cache) < 1_000_000:
                self._cache[text] = ids
        return ids

    def encode_dialogue(self, context: Sequence[str], max_len: int) -> list[int]:
        """`[CLS] u1 [SEP] ... un [SEP]`, keeping the most recent tokens when longer than `max_len`."""
        budget = max_len - 1
        pieces: list[list[int]] = []
        used = 0
        for utterance in reversed(context):
            piece = self._cached(utterance) + [self.sep_id]
            if used + len(piece) > budget:
                pieces.append(piece[len(piece) - (budget - used) :] if budget > used else [])
                break
            pieces.append(piece)
            used += len(piece)
        ids = [self.cls_id]
        for piece in reversed(pieces):
            ids.extend(piece)
        return ids

    def reads_nothing(self, context: Sequence[str], max_len: int) -> bool:
        """True when the model would see no known token of `context`: every one it keeps is [UNK] (emoji alone,
        another script), so a ranking for it does not follow from what the dialogue says."""
        special = (self.cls_id, self.sep_id, self.unk_id)
        return all(token in special for token in self.encode_dialogue(context, max_len))

    def to_dict(self) -> dict:
        return {"kind": self.kind, "vocab": self.vocab}


UNREAD_DIALOGUE = (
    "none of the dialogue's text is in the model's vocabulary (every token is [UNK]): the ranking does not follow "
    "from what it says"
)


class CharTokenizer(Tokenizer):
    """One token per character over a fixed vocabulary: runs with no download, like bert-base-chinese's CJK split."""

    kind = "char"

    def __init__(self, vocab: Sequence[str] | None = None):
        super().__init__(vocab if vocab is not None else _char_vocab())

    def encode_utterance(self, text: str) -> list[int]:
        text = unicodedata.normalize("NFKC", text).lower()
        get, unk = self.index.get, self.unk_id
        return [get(ch, unk) for ch in text if not ch.isspace()]


class WordPieceTokenizer(Tokenizer):
    """A BERT vocabulary (e.g. bert-base-chinese's vocab.txt) through transformers' BertTokenizer."""

    kind = "wordpiece"

    def __init__(self, vocab: Sequence[str]):
        super().__init__(vocab)
        from transformers import BertTokenizer

        self._bert = BertTokenizer(vocab={token: i for i, token in enumerate(self.vocab)})

    @classmethod
    def from_folder(cls, folder: str | Path) -> "WordPieceTokenizer":
        vocab_file = Path(folder) / "vocab.txt"
        vocab = read_vocab(vocab_file)
        try:
            return cls(vocab)
        except FormatError as exc:
            raise FormatError(str(exc), vocab_file) from None

    def encode_utterance(self, text: str) -> list[int]:
        return self._bert(text, add_special_tokens=False)["input_ids"]


class WordTokenizer(Tokenizer):
    """jieba words over a vocabulary built from the training dialogues (LSTM / GRU / Transformer towers)."""

    kind = "word"

    def encode_utterance(self, text: str) -> list[int]:
        get, unk = self.index.get, self.unk_id
        return [get(word, unk) for word in segment(text)]

    @classmethod
    def build(cls, contexts: Iterable[Sequence[str]], max_size: int = 50_000, min_count: int = 1) -> "WordTokenizer":
        counts: Counter[str] = Counter()
        for context in contexts:
            for utterance in context:
                counts.update(segment(utterance))
        words = [w for w, c in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) if c >= min_count]
        return cls(list(SPECIALS) + words[: max_size - len(SPECIALS)])


def segment(text: str) -> list[str]:
    """jieba words of `text` without whitespace tokens."""
    import jieba

    from ..runtime import quiet_jieba

    quiet_jieba()
    return [w for w in jieba.lcut(text) if w.strip()]


def read_vocab(vocab_file: Path) -> list[str]:
    """The tokens of a BERT vocab.txt, one a line (as transformers reads it); FormatError names the file."""
    if not vocab_file.is_file():
        raise FormatError("no vocab.txt in the BERT folder", vocab_file.parent)
    try:
        text = vocab_file.read_bytes().decode("utf-8")
    except OSError as exc:
        raise FormatError(f"cannot read ({exc.strerror or exc.__class__.__name__})", vocab_file) from None
    except UnicodeDecodeError as exc:
        raise FormatError(f"not UTF-8 text (byte {exc.start})", vocab_file) from None
    tokens = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")  # universal newlines, as transformers reads it
    if tokens[-1] == "":
        tokens.pop()
    if not any(token.strip() for token in tokens):
        raise FormatError("the vocabulary is empty", vocab_file)
    return tokens


def tokenizer_from_dict(data: dict) -> Tokenizer:
    kinds = {"char": CharTokenizer, "wordpiece": WordPieceTokenizer, "word": WordTokenizer}
    if not isinstance(data, dict):
        raise FormatError(f"expected a JSON object, got {type(data).__name__}")
    kind = data.get("kind")
    if not isinstance(kind, str) or kind not in kinds:
        raise FormatError(f"unknown tokenizer kind {kind!r}")
    vocab = data.get("vocab")
    if not isinstance(vocab, list) or not all(isinstance(token, str) for token in vocab):
        raise FormatError("vocab must be a list of strings")
    return kinds[kind](vocab)


def load_tokenizer(path: str | Path) -> Tokenizer:
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise FormatError(f"cannot read tokenizer ({exc.__class__.__name__})", path) from None
    try:
        return tokenizer_from_dict(data)
    except FormatError as exc:
        raise FormatError(str(exc), path) from None


def make_tokenizer(txt: str, txt_model: str = "", contexts: Iterable[Sequence[str]] | None = None) -> Tokenizer:
    """The tokenizer a text tower needs: WordPiece from `txt_model`, else characters (bert) or jieba words."""
    if txt == "bert":
        return WordPieceTokenizer.from_folder(txt_model) if txt_model else CharTokenizer()
    if contexts is None:
        raise ConfigError(f"the {txt} text tower needs training dialogues to build its word vocabulary")
    return WordTokenizer.build(contexts)
