"""Hostile images and dataset paths, generated: every decoder x each kind of damage through `load_image`,
bounded work in `square_resize` whatever the aspect ratio, sticker paths that leave the dataset or cannot
name a file, and a few of them through `pbr rank` / `pbr embed`.

Each bad case must give a DataError naming the file (one line, no other exception); each decodable one an
(H, W, 3) uint8 array with the right pixels.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import random
import resource
import shutil
import struct
import tracemalloc
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fixtures_data import set_line
from helpers import assert_refused, temp_files
from pbr_cli.data.cache import square_resize
from pbr_cli.data.images import MAX_SIDE, load_image
from pbr_cli.data.pbrfolder import read_pbr_dataset
from pbr_cli.errors import DataError
from pbr_cli.features import write_h5
from synthetic import png_claiming, write_tiny_dataset

PICTURES = {"png": "PNG", "jpg": "JPEG", "webp": "WEBP", "gif": "GIF", "bmp": "BMP"}  # suffix -> Pillow format
SIGNATURE_END = {"png": 8, "jpg": 3, "webp": 12, "gif": 6, "bmp": 2}  # bytes a truncated file needs to say its format
NOISE = np.random.default_rng(0).integers(0, 256, (12, 16, 3), dtype=np.uint8)
NOT_AN_IMAGE = "the content is not"  # the message for content of no known format
OVER_A_SIDE = f"a side over {MAX_SIDE:,} pixels"
TOO_MANY_PIXELS = "decompression bomb"
TRAIN = ["--steps", "2", "-K", "4", "--img-size", "32"]


def encode(suffix: str, pixels: np.ndarray = NOISE, **options) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format=PICTURES[suffix], **options)
    return buffer.getvalue()


def npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=array.dtype == object)
    return buffer.getvalue()


def decoded(folder: Path, name: str, data: bytes) -> np.ndarray:
    """What load_image makes of `data` written as `folder / name`: the reference result."""
    (folder / name).write_bytes(data)
    return load_image(folder / name)


@dataclass(frozen=True)
class Case:
    """One file for load_image: refused with every needle in the message, or decoded (equal to `same_as`)."""

    name: str
    data: bytes
    needles: tuple[str, ...] = ()  # refused when set
    shape: tuple[int, int] | None = None
    same_as: str | None = None  # a file of the same pixels, encoded correctly: results must match
    pixels: np.ndarray | None = None  # exact expected result
    either: bool = False  # truncated: refused, or decoded exactly like the whole file


def refused(name: str, data: bytes, *needles: str) -> Case:
    return Case(name, data, needles)


def picture_cases() -> list[Case]:
    cases: list[Case] = []
    for suffix in PICTURES:
        whole = encode(suffix)
        cases.append(Case(f"whole.{suffix}", whole, shape=(12, 16)))
        for cut in sorted({1, SIGNATURE_END[suffix], 16, 40, len(whole) // 2, len(whole) - 10, len(whole) - 1}):
            cases.append(Case(f"cut{cut}_of_{len(whole)}.{suffix}", whole[:cut], either=True))
        for seed in range(2):
            cases.append(refused(f"garbage{seed}.{suffix}", random.Random(seed).randbytes(300), NOT_AN_IMAGE))
        signature = whole[: SIGNATURE_END[suffix]]
        cases.append(
            refused(f"signature_then_garbage.{suffix}", signature + random.Random(9).randbytes(300), PICTURES[suffix])
        )
        cases.append(refused(f"zero.{suffix}", b"", "empty (0 bytes)"))
        for other in PICTURES:
            if other != suffix:
                cases.append(Case(f"{other}_named.{suffix}", encode(other), shape=(12, 16), same_as=f"x.{other}"))
        cases.append(refused(f"npy_named.{suffix}", npy_bytes(NOISE), "NumPy .npy array", "name it .npy"))
    return cases


def gif_screen(width: int = 4, height: int = 4, palette: bool = False) -> bytes:
    flags = 0x80 if palette else 0
    return b"GIF89a" + struct.pack("<HHBBB", width, height, flags, 0, 0) + (b"\0\0\0\xff\xff\xff" if palette else b"")


def extreme_cases() -> list[Case]:
    cases: list[Case] = []
    longest = {"png": MAX_SIDE, "jpg": 65500, "webp": 16383, "gif": MAX_SIDE, "bmp": MAX_SIDE}  # each format's own
    for suffix, side in longest.items():
        for length in sorted({2500, side}):
            for shape in ((1, length), (length, 1)):
                pixels = np.full((*shape, 3), (200, 30, 90), dtype=np.uint8)
                lossy = suffix in ("jpg", "webp")
                cases.append(
                    Case(
                        f"strip{shape[0]}x{shape[1]}.{suffix}",
                        encode(suffix, pixels, **({"quality": 100} if lossy else {})),
                        shape=shape,
                        pixels=None if lossy or suffix == "gif" else pixels,
                    )
                )
    for suffix in ("png", "bmp"):
        for shape in ((1, MAX_SIDE + 1), (200_000, 1)):
            pixels = np.zeros((*shape, 3), dtype=np.uint8)
            cases.append(
                refused(
                    f"over_a_side{shape[0]}x{shape[1]}.{suffix}",
                    encode(suffix, pixels),
                    OVER_A_SIDE,
                    f"{shape[1]}x{shape[0]}",
                )
            )
    cases.append(refused("claims_9000x9000.png", png_claiming(9000, 9000), "9000x9000", TOO_MANY_PIXELS))
    cases.append(refused("claims_1x200000.png", png_claiming(1, 200_000), OVER_A_SIDE))
    jpeg = bytearray(encode("jpg"))
    frame = jpeg.index(b"\xff\xc0") + 5
    jpeg[frame : frame + 4] = struct.pack(">HH", 65535, 65535)
    cases.append(refused("claims_65535x65535.jpg", bytes(jpeg), TOO_MANY_PIXELS))
    bmp = bytearray(encode("bmp"))
    bmp[18:26] = struct.pack("<ii", 9000, 9000)
    cases.append(refused("claims_9000x9000.bmp", bytes(bmp), "9000x9000", TOO_MANY_PIXELS))
    bmp[18:26] = struct.pack("<ii", 200_000, 1)
    cases.append(refused("claims_200000x1.bmp", bytes(bmp), OVER_A_SIDE))
    gif = bytearray(encode("gif"))
    gif[6:10] = struct.pack("<HH", 65535, 65535)
    cases.append(refused("claims_65535x65535.gif", bytes(gif), TOO_MANY_PIXELS))
    webp = bytearray(encode("webp"))
    webp[26:30] = struct.pack("<HH", 16383, 16383)
    cases.append(refused("claims_16383x16383.webp", bytes(webp), TOO_MANY_PIXELS))
    no_frames = {
        "trailer": gif_screen() + b";",
        "palette_trailer": gif_screen(palette=True) + b";",
        "no_trailer": gif_screen(),
        "extension_only": gif_screen() + b"!\xf9\x04\x00\x00\x00\x00\x00;",
        "zero_screen": gif_screen(0, 0) + b";",
    }
    cases += [refused(f"no_frames_{kind}.gif", data, "GIF has no frames") for kind, data in no_frames.items()]
    return cases


def npy_header_claiming(shape: tuple[int, ...]) -> bytes:
    """The header of a uint8 .npy array of `shape`, with no data after it."""
    header = repr({"descr": "|u1", "fortran_order": False, "shape": shape}).encode("latin-1")
    header += b" " * (63 - (len(header) + 10) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header


def npy_cases() -> list[Case]:
    gray = NOISE[..., 0]
    opaque = np.concatenate([NOISE, np.full((12, 16, 1), 255, np.uint8)], axis=2)
    valid = {
        "hwc": (NOISE, NOISE),
        "gray": (gray, np.repeat(gray[..., None], 3, axis=2)),
        "gray1": (gray[..., None], np.repeat(gray[..., None], 3, axis=2)),
        "gray_alpha_opaque": (np.stack([gray, np.full_like(gray, 255)], axis=2), np.repeat(gray[..., None], 3, 2)),
        "rgba_opaque": (opaque, NOISE),
        "chw": (NOISE.transpose(2, 0, 1).copy(), NOISE),
        "fortran": (np.asfortranarray(NOISE), NOISE),
        "uint16": (NOISE.astype(np.uint16), NOISE),
        "big_endian": (NOISE.astype(">u2"), NOISE),
        "int64": (NOISE.astype(np.int64), NOISE),
    }
    cases = [
        Case(f"{name}.npy", npy_bytes(array), shape=expected.shape[:2], pixels=expected)
        for name, (array, expected) in valid.items()
    ]
    with_nan = NOISE.astype(np.float32)
    with_nan[0, 0, 0] = np.nan
    bad_values = {
        "float32": NOISE.astype(np.float32),
        "nan": with_nan,
        "inf": np.full((4, 4, 3), np.inf),
        "bool": np.ones((4, 4, 3), bool),
        "complex": np.ones((4, 4, 3), complex),
        "negative": np.full((4, 4, 3), -1),
        "over_255": np.full((4, 4, 3), 300, np.uint16),
        "text": np.full((4, 4, 3), "a"),
        "structured": np.zeros((4, 4, 3), dtype=[("r", "u1"), ("g", "u1")]),
    }
    cases += [
        refused(f"{name}.npy", npy_bytes(array), "expected uint8 pixel values") for name, array in bad_values.items()
    ]
    bad_shapes = {"1d": (5,), "0d": (), "4d": (1, 2, 2, 3), "5_channels": (2, 2, 5), "2_planes": (2, 5, 5)}
    cases += [
        refused(f"shape_{name}.npy", npy_bytes(np.zeros(shape, np.uint8)), "expected an (H, W, 3) image array")
        for name, shape in bad_shapes.items()
    ]
    for shape in ((0, 4, 3), (4, 0, 3), (0, 0)):
        cases.append(
            refused(f"empty{'x'.join(map(str, shape))}.npy", npy_bytes(np.zeros(shape, np.uint8)), "no pixels")
        )
    cases.append(refused("objects.npy", npy_bytes(np.array([{"a": 1}], dtype=object)), "not a readable .npy array"))
    cases.append(refused("claims_9000x9000.npy", npy_header_claiming((9000, 9000, 3)), "not a readable .npy array"))
    cases.append(refused("claims_2x200000.npy", npy_header_claiming((2, 200_000, 3)) + bytes(1_200_000), OVER_A_SIDE))
    whole = npy_bytes(NOISE)
    for cut in (1, 6, 10, 60, len(whole) // 2, len(whole) - 1):
        cases.append(refused(f"cut{cut}.npy", whole[:cut], ".npy"))
    cases.append(refused("garbage.npy", random.Random(0).randbytes(300), "no NumPy header"))
    cases.append(refused("zero.npy", b"", "empty (0 bytes)"))
    for suffix in PICTURES:
        cases.append(refused(f"{suffix}_named.npy", encode(suffix), f"the content is a {PICTURES[suffix]} image"))
    return cases


CASES = picture_cases() + extreme_cases() + npy_cases()


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_load_image_refuses_or_decodes(tmp_path, case):
    path = tmp_path / case.name
    path.write_bytes(case.data)
    try:
        result = load_image(path)
    except DataError as exc:
        message = str(exc)
        assert case.needles or case.either, f"refused a decodable image: {message}"
        assert message.startswith(f"{path}: ") and "\n" not in message, message
        for needle in case.needles:
            assert needle in message, f"{needle!r} not in {message!r}"
        if case.either and len(case.data) >= SIGNATURE_END[path.suffix[1:]]:
            assert NOT_AN_IMAGE not in message, f"a truncated {path.suffix} is not said to be one: {message}"
        return
    assert not case.needles, f"decoded a file that must be refused: {result.shape}"
    assert result.dtype == np.uint8 and result.ndim == 3 and result.shape[2] == 3, (result.dtype, result.shape)
    if case.either:
        whole = next(c for c in CASES if c.name == f"whole{path.suffix}")
        np.testing.assert_array_equal(result, decoded(tmp_path, whole.name, whole.data))  # never a part of it
        return
    assert result.shape[:2] == case.shape
    if case.pixels is not None:
        np.testing.assert_array_equal(result, case.pixels)
    if case.same_as is not None:
        np.testing.assert_array_equal(result, decoded(tmp_path, case.same_as, case.data))


# ---------------------------------------------------------------------------------------------------------------
# square_resize: the work is bounded by input and output, whatever the aspect ratio


@contextlib.contextmanager
def address_space_ceiling(extra_bytes: int):
    """Any allocation beyond `extra_bytes` more address space fails at once with MemoryError (Linux), never swaps."""
    try:
        with open("/proc/self/statm") as handle:
            used = int(handle.read().split()[0]) * resource.getpagesize()
    except OSError:
        yield
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    ceiling = used + extra_bytes if hard == resource.RLIM_INFINITY else min(hard, used + extra_bytes)
    resource.setrlimit(resource.RLIMIT_AS, (ceiling, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


@pytest.mark.parametrize(
    "shape",
    [(1, 60_000), (60_000, 1), (2, MAX_SIDE), (MAX_SIDE, 3), (7, 40_000)],
    ids=lambda shape: f"{shape[0]}x{shape[1]}",
)
def test_square_resize_of_a_strip_allocates_little(shape):
    strip = np.full((*shape, 3), 40, dtype=np.uint8)
    tracemalloc.start()
    try:
        with address_space_ceiling(1 << 30):
            result = square_resize(strip, 32)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert result.shape == (32, 32, 3) and result.dtype == np.uint8
    assert peak < 8 << 20, f"{peak:,} bytes traced for a {shape} strip"
    assert (result == 40).any() and (result == 255).any()


@pytest.mark.parametrize("side", [7, 20, 32, 48, 100])
def test_square_resize_of_a_square_is_a_plain_bilinear_resize(side):
    image = np.random.default_rng(side).integers(0, 256, (side, side, 3), dtype=np.uint8)
    expected = np.asarray(Image.fromarray(image).resize((32, 32), Image.BILINEAR))
    np.testing.assert_array_equal(square_resize(image, 32), expected)


@pytest.mark.parametrize(
    "shape,block",
    [
        ((10, 40), (slice(12, 20), slice(0, 32))),
        ((40, 10), (slice(0, 32), slice(12, 20))),
        ((3, 96), (slice(15, 16), slice(0, 32))),
    ],
)
def test_square_resize_centres_the_image_on_white(shape, block):
    result = square_resize(np.full((*shape, 3), (200, 0, 0), dtype=np.uint8), 32)
    inside = np.zeros((32, 32), bool)
    inside[block] = True
    assert (result[inside] == (200, 0, 0)).all()
    assert (result[~inside] == 255).all()


def test_teacher_inputs_and_thumbnails_of_a_strip_are_bounded(tmp_path):
    from pbr_cli.report.ranked import thumbnail
    from pbr_cli.teacher.model import _to_pixels

    path = tmp_path / "strip.png"
    path.write_bytes(encode("png", np.full((1, 60_000, 3), 9, np.uint8)))
    with address_space_ceiling(1 << 30):
        pixels = _to_pixels([load_image(path)], 32)
        picture = thumbnail(str(path), 160)
    assert tuple(pixels.shape) == (1, 3, 32, 32)
    assert picture.size == (160, 160)


# ---------------------------------------------------------------------------------------------------------------
# Paths read from stickers.jsonl


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return write_tiny_dataset(tmp_path_factory.mktemp("sweep-paths") / "data")


def symlink_to_outside_file(root: Path) -> str:
    (root.parent / "secret.png").write_bytes((root / "stickers/t0/t0s0.png").read_bytes())
    (root / "stickers/t0/link.png").symlink_to(root.parent / "secret.png")
    return "stickers/t0/link.png"


def symlink_to_outside_folder(root: Path) -> str:
    (root.parent / "elsewhere").mkdir()
    shutil.copy(root / "stickers/t0/t0s0.png", root.parent / "elsewhere" / "t0s0.png")
    (root / "stickers/escape").symlink_to(root.parent / "elsewhere")
    return "stickers/escape/t0s0.png"


PATH_CASES = {
    "nul": ("stickers/t0/t0\0s0.png", ("a NUL character", "t0\\x00s0.png")),
    "newline": ("stickers/t0/t0\ns0.png", ("U+000A", "t0\\ns0.png")),
    "escape": ("stickers/t0/\x1bs0.png", ("U+001B",)),
    "delete": ("stickers/t0/\x7fs0.png", ("U+007F",)),
    "absolute": ("/etc/passwd", ("'/etc/passwd' is absolute",)),
    "drive": ("C:\\stickers\\a.png", ("is absolute",)),
    "unc": ("\\\\server\\share\\a.png", ("is absolute",)),
    "parent": ("..", ("leaves the dataset folder",)),
    "parent_file": ("../x.png", ("leaves the dataset folder",)),
    "parent_nested": ("stickers/../../x.png", ("leaves the dataset folder",)),
    "empty": ("", ("is empty",)),
    "blank": ("   ", ("is empty",)),
    "missing": ("stickers/t0/none.png", ("does not exist",)),
    "folder": ("stickers/t0", ("is not a file",)),
    "symlink_file": (symlink_to_outside_file, ("is a symlink that resolves outside the dataset folder",)),
    "symlink_folder": (symlink_to_outside_folder, ("is under a symlink that resolves outside",)),
}


def set_first_sticker_path(root: Path, path: str) -> None:
    record = json.loads((root / "stickers.jsonl").read_text(encoding="utf-8").splitlines()[0])
    record["path"] = path
    set_line(root / "stickers.jsonl", 1, json.dumps(record))  # ASCII escapes keep NUL and surrogates writable


@pytest.mark.parametrize("value,needles", PATH_CASES.values(), ids=PATH_CASES.keys())
def test_dataset_path_is_refused_naming_file_and_line(dataset, tmp_path, value, needles):
    root = shutil.copytree(dataset, tmp_path / "data", symlinks=True)
    set_first_sticker_path(root, value(root) if callable(value) else value)
    with pytest.raises(DataError) as excinfo:
        read_pbr_dataset(root)
    message = str(excinfo.value)
    assert message.startswith(f"{root / 'stickers.jsonl'}: line 1: path '"), message
    assert "\n" not in message and "\0" not in message, repr(message)
    for needle in needles:
        assert needle in message, f"{needle!r} not in {message!r}"


def test_dataset_path_with_a_lone_surrogate_is_refused_as_not_unicode(dataset, tmp_path):
    # refused by the JSON reader already, for every field: no file name (and no output) can hold it
    root = shutil.copytree(dataset, tmp_path / "data", symlinks=True)
    set_first_sticker_path(root, "stickers/t0/\ud800.png")
    with pytest.raises(DataError, match=r"stickers.jsonl: line 1: 'path' holds an unpaired UTF-16 surrogate"):
        read_pbr_dataset(root)


# ---------------------------------------------------------------------------------------------------------------
# Through the CLI: one `Error:` line naming the file, or a result; never a traceback; inputs unchanged


def folder_hash(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def cli_inputs(dataset, tmp_path_factory):
    """A run of the tiny model, a dialogue, and sticker folders holding a strip, a bomb and unreadable images."""
    from helpers import module_cache, run_pbr

    root = tmp_path_factory.mktemp("sweep-cli")
    with module_cache(root / "cache"):
        result = run_pbr("train", "--data", dataset, "-o", root / "run", *TRAIN)
        assert result.exit_code == 0, result.output
    good = (dataset / "stickers/t0/t0s0.png").read_bytes()
    folders = {
        "bomb": {"good.png": good, "bomb.png": encode("png", np.zeros((200_000, 1, 3), np.uint8))},
        "strip": {"good.png": good, "strip.png": encode("png", np.zeros((60_000, 1, 3), np.uint8))},
        "unreadable": {
            "garbage.png": random.Random(0).randbytes(400),
            "bomb.png": png_claiming(9000, 9000),
            "frameless.gif": gif_screen() + b";",
        },
        "frameless": {"good.png": good, "frameless.gif": gif_screen() + b";"},
    }
    for name, files in folders.items():
        for file_name, data in files.items():
            (root / name).mkdir(exist_ok=True)
            (root / name / file_name).write_bytes(data)
    (root / "dialogue.txt").write_text("你好\n今天考试过了！\n", encoding="utf-8")
    return root


CLI_REFUSALS = {
    "bomb": ("rank", "bomb", (), ("bomb.png", OVER_A_SIDE)),
    "frameless": ("rank", "frameless", (), ("frameless.gif", "GIF has no frames")),
    "rank_all_unreadable": (
        "rank",
        "unreadable",
        ("--skip-bad-images",),
        ("unreadable", "no readable images: all 3 were skipped"),
    ),
    "embed_all_unreadable": (
        "embed",
        "unreadable",
        ("--skip-bad-images",),
        ("unreadable", "no readable images: all 3 were skipped"),
    ),
}


def cli_args(command: str, root: Path, folder: str, index: Path) -> list:
    if command == "rank":
        return ["rank", root / "dialogue.txt", root / folder, "--model", root / "run"]
    return ["embed", root / folder, "--model", root / "run", "-o", index]


@pytest.mark.parametrize("command,folder,extra,needles", CLI_REFUSALS.values(), ids=CLI_REFUSALS.keys())
def test_cli_refuses_folders_without_usable_images(invoke, cli_inputs, tmp_path, command, folder, extra, needles):
    before = folder_hash(cli_inputs / folder)
    result = invoke(*cli_args(command, cli_inputs, folder, tmp_path / "index.h5"), *extra)
    assert_refused(result, *needles, not_written=(tmp_path / "index.h5",), folder=tmp_path)
    assert folder_hash(cli_inputs / folder) == before


@pytest.mark.parametrize("command", ["rank", "embed"])
def test_cli_skips_a_bomb_and_ranks_a_strip_in_bounded_memory(invoke, cli_inputs, tmp_path, command):
    skipped = invoke(*cli_args(command, cli_inputs, "bomb", tmp_path / "skipped.h5"), "--skip-bad-images", "--json")
    assert skipped.exit_code == 0, skipped.output
    assert "Traceback" not in skipped.output and "1 unreadable" in skipped.output, skipped.output
    with address_space_ceiling(2 << 30):  # the old square canvas of a 1 x 60,000 strip took 10.8 GB
        result = invoke(*cli_args(command, cli_inputs, "strip", tmp_path / "strip.h5"), "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    if command == "rank":
        assert sorted(row["id"] for row in summary["stickers"]) == ["good", "strip"]
    else:
        assert summary["stickers"] == 2 and temp_files(tmp_path) == []


def test_rank_refuses_an_empty_index(invoke, cli_inputs, tmp_path):
    from pbr_cli.model.weights import file_hash

    run = cli_inputs / "run"
    dim = json.loads((run / "config.json").read_text())["model"]["embed_dim"]
    index = tmp_path / "empty_index.h5"
    write_h5(
        index,
        "sticker_index",
        {
            "ids": np.array([], dtype=object),
            "paths": np.array([], dtype=object),
            "embeddings": np.zeros((0, dim), np.float16),
        },
        {"model_hash": file_hash(run / "best.safetensors"), "dim": dim, "img_size": 32},
    )
    result = invoke("rank", cli_inputs / "dialogue.txt", index, "--model", run)
    assert_refused(result, "empty_index.h5", "holds no stickers")


def test_rank_names_the_line_of_a_dialogue_that_is_not_utf8(invoke, cli_inputs, tmp_path):
    dialogue = tmp_path / "latin1.txt"
    dialogue.write_bytes("hello\ncaf\xe9\n".encode("latin-1"))
    result = invoke("rank", dialogue, cli_inputs / "strip", "--model", cli_inputs / "run")
    error = assert_refused(result, "latin1.txt", "line 2: not UTF-8 text (byte 0xe9)")
    assert "byte 9" not in error


def test_train_refuses_a_nul_in_a_sticker_path(invoke, dataset, tmp_path):
    root = shutil.copytree(dataset, tmp_path / "data")
    set_first_sticker_path(root, "stickers/t0/t0\0s0.png")
    before = folder_hash(root)
    result = invoke("train", "--data", root, "-o", tmp_path / "run", *TRAIN)
    assert_refused(result, "stickers.jsonl", "line 1", "NUL", not_written=(tmp_path / "run",), folder=tmp_path)
    assert folder_hash(root) == before
