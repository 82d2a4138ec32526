"""Image decoding, transparency, size limits, folder search and safe dataset paths."""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest
from PIL import Image

from pbr_cli.data.images import IMAGE_SUFFIXES, ContainedFolder, find_images, load_image, safe_join
from pbr_cli.errors import DataError

RED = (200, 30, 40)


def _flat(path, mode="RGB", color=RED, size=(6, 4)):
    Image.new("RGB", size, color).convert(mode).save(path)
    return path


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp"])
def test_every_picture_format_loads_as_rgb_uint8(tmp_path, suffix):
    path = _flat(tmp_path / f"sticker{suffix}")
    pixels = load_image(path)
    assert pixels.shape == (4, 6, 3) and pixels.dtype == np.uint8
    assert np.abs(pixels.astype(int) - RED).max() <= 12  # jpeg / palette are lossy


def test_upper_case_suffix_and_grayscale(tmp_path):
    pixels = load_image(_flat(tmp_path / "GRAY.PNG", mode="L"))
    assert pixels.shape == (4, 6, 3) and (pixels[..., 0] == pixels[..., 2]).all()


@pytest.mark.parametrize(
    "array, expected",
    [
        (np.full((3, 5), 7, np.uint8), (7, 7, 7)),  # HW gray
        (np.full((3, 5, 1), 9, np.uint8), (9, 9, 9)),  # HW1
        (np.tile(np.uint8(RED), (3, 5, 1)), RED),  # HWC
        (np.tile(np.uint8([*RED, 255]), (3, 5, 1)), RED),  # HWC, opaque alpha
        (np.tile(np.uint8([0, 0, 0, 0]), (3, 5, 1)), (255, 255, 255)),  # HWC, transparent
        (np.tile(np.uint8(RED), (3, 5, 1)).transpose(2, 0, 1), RED),  # CHW
        (np.full((3, 5), 300, np.int32).clip(0, 255), (255, 255, 255)),  # integer dtype in range
    ],
)
def test_npy_arrays(tmp_path, array, expected):
    np.save(tmp_path / "a.npy", array)
    pixels = load_image(tmp_path / "a.npy")
    assert pixels.shape == (3, 5, 3) and pixels.dtype == np.uint8
    assert tuple(pixels[1, 2]) == tuple(expected)


def test_transparency_is_composited_on_white(tmp_path):
    rgba = np.zeros((2, 2, 4), np.uint8)
    rgba[0, 0] = (0, 0, 0, 0)  # transparent -> white
    rgba[0, 1] = (0, 0, 0, 255)  # opaque black
    rgba[1, 0] = (0, 0, 0, 128)  # half -> mid grey
    rgba[1, 1] = (255, 0, 0, 255)
    Image.fromarray(rgba, "RGBA").save(tmp_path / "rgba.png")
    pixels = load_image(tmp_path / "rgba.png")
    assert tuple(pixels[0, 0]) == (255, 255, 255)
    assert tuple(pixels[0, 1]) == (0, 0, 0)
    assert 125 <= pixels[1, 0, 0] <= 129
    assert tuple(pixels[1, 1]) == (255, 0, 0)
    np.save(tmp_path / "rgba.npy", rgba)
    assert (load_image(tmp_path / "rgba.npy") == pixels).all()


def test_la_and_palette_transparency(tmp_path):
    la = Image.new("LA", (2, 1), (0, 255))
    la.putpixel((1, 0), (0, 0))
    la.save(tmp_path / "la.png")
    assert load_image(tmp_path / "la.png").tolist() == [[[0, 0, 0], [255, 255, 255]]]

    palette = Image.new("P", (2, 1), 1)
    palette.putpalette([0, 0, 0, 10, 20, 30] + [0] * 762)
    palette.putpixel((0, 0), 0)
    palette.save(tmp_path / "p.png", transparency=0)
    palette.save(tmp_path / "p.gif", transparency=0)
    for name in ("p.png", "p.gif"):
        assert load_image(tmp_path / name).tolist() == [[[255, 255, 255], [10, 20, 30]]], name


def test_sixteen_bit_greyscale_is_scaled_not_clipped(tmp_path):
    values = np.array([[0, 16384, 32768, 65535]] * 3, dtype=np.uint16)
    Image.fromarray(values).save(tmp_path / "grey16.png")  # mode I;16
    with Image.open(tmp_path / "grey16.png") as opened:
        assert opened.mode.startswith("I")
    pixels = load_image(tmp_path / "grey16.png")
    assert pixels.shape == (3, 4, 3) and pixels.dtype == np.uint8
    assert pixels[0, :, 0].tolist() == [0, 64, 128, 255] and (pixels == pixels[..., :1]).all()
    Image.fromarray(values).save(tmp_path / "keyed16.png", transparency=16384)  # tRNS: that grey is transparent
    assert load_image(tmp_path / "keyed16.png")[0, :, 0].tolist() == [0, 255, 128, 255]


@pytest.mark.parametrize("suffix", [".jpg", ".png", ".webp"])
def test_exif_orientation_is_applied_as_a_viewer_shows_it(tmp_path, suffix):
    from PIL import ImageOps

    stored = np.random.default_rng(0).integers(0, 256, (6, 10, 3), dtype=np.uint8)
    options = {".jpg": {"quality": 100}, ".webp": {"lossless": True}}.get(suffix, {})
    for orientation in range(1, 9):
        exif = Image.Exif()
        exif[0x0112] = orientation
        path = tmp_path / f"o{orientation}{suffix}"
        Image.fromarray(stored).save(path, exif=exif.tobytes(), **options)
        with Image.open(path) as image:
            expected = np.asarray(ImageOps.exif_transpose(image).convert("RGB"))
        pixels = load_image(path)
        assert pixels.shape == ((6, 10, 3) if orientation < 5 else (10, 6, 3)), orientation
        assert np.array_equal(pixels, expected), orientation
        assert pixels.flags.c_contiguous


def test_a_damaged_or_odd_orientation_tag_leaves_the_pixels_as_stored(tmp_path):
    stored = np.random.default_rng(1).integers(0, 256, (4, 7, 3), dtype=np.uint8)
    exif = Image.Exif()
    exif[0x0112] = 9  # not an orientation
    Image.fromarray(stored).save(tmp_path / "odd.png", exif=exif.tobytes())
    assert np.array_equal(load_image(tmp_path / "odd.png"), stored)
    Image.fromarray(stored).save(tmp_path / "damaged.png", exif=b"Exif\x00\x00MM\x00*\xff\xff")
    assert np.array_equal(load_image(tmp_path / "damaged.png"), stored)


def test_gif_gives_its_first_frame(tmp_path):
    frames = [Image.new("RGB", (4, 4), c) for c in [(255, 0, 0), (0, 0, 255), (0, 255, 0)]]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:], duration=50)
    with Image.open(tmp_path / "anim.gif") as image:
        assert image.n_frames == 3
    pixels = load_image(tmp_path / "anim.gif")
    assert pixels[0, 0, 0] > 200 and pixels[0, 0, 2] < 50


@pytest.mark.parametrize("transparency", [None, 0])
def test_the_canvas_a_gifs_first_frame_leaves_bare_is_white(tmp_path, transparency):
    """A first frame of 8x8 at (4, 4) on a 16x16 canvas: Pillow fills the rest with the background colour
    (palette entry 0, red here); browsers show it transparent, which pbr composites on white."""
    import io
    import struct

    frame = Image.new("P", (8, 8), 1)
    frame.putpalette([*RED, 0, 90, 200] + [0] * 762)
    buffer = io.BytesIO()
    frame.save(buffer, format="GIF", **({} if transparency is None else {"transparency": transparency}))
    data = bytearray(buffer.getvalue())
    data[6:10] = struct.pack("<HH", 16, 16)  # the logical screen
    descriptor = data.index(0x2C, 13)  # the image descriptor: left, top
    data[descriptor + 1 : descriptor + 5] = struct.pack("<HH", 4, 4)
    (tmp_path / "partial.gif").write_bytes(bytes(data))
    pixels = load_image(tmp_path / "partial.gif")
    assert pixels.shape == (16, 16, 3)
    assert (pixels[4:12, 4:12] == (0, 90, 200)).all()
    bare = np.ones((16, 16), dtype=bool)
    bare[4:12, 4:12] = False
    assert (pixels[bare] == 255).all()


def _message(excinfo) -> str:
    return str(excinfo.value)


def test_errors_name_the_file(tmp_path):
    cases = {}
    cases["missing"] = (tmp_path / "missing.png", "not found")
    (tmp_path / "empty.png").write_bytes(b"")
    cases["empty"] = (tmp_path / "empty.png", "empty")
    data = _flat(tmp_path / "full.png", size=(64, 64)).read_bytes()
    (tmp_path / "truncated.png").write_bytes(data[: len(data) // 2])
    cases["truncated"] = (tmp_path / "truncated.png", "corrupt or truncated")
    (tmp_path / "garbage.jpg").write_bytes(b"not an image at all" * 10)
    cases["garbage"] = (tmp_path / "garbage.jpg", "not a readable image")
    _flat(tmp_path / "photo.tiff")
    cases["unsupported"] = (tmp_path / "photo.tiff", "unsupported image type")
    (tmp_path / "folder.png").mkdir()
    cases["folder"] = (tmp_path / "folder.png", "folder")
    np.save(tmp_path / "float.npy", np.zeros((2, 2, 3), np.float32))
    cases["float"] = (tmp_path / "float.npy", "uint8")
    np.save(tmp_path / "shape.npy", np.zeros((2, 2, 5), np.uint8))
    cases["shape"] = (tmp_path / "shape.npy", "shape")
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    cases["objects"] = (tmp_path / "objects.npy", "npy")
    np.save(tmp_path / "short.npy", np.zeros((64, 64, 3), np.uint8))
    short = (tmp_path / "short.npy").read_bytes()
    (tmp_path / "short.npy").write_bytes(short[:200])
    cases["short"] = (tmp_path / "short.npy", "npy")
    for name, (path, expected) in cases.items():
        with pytest.raises(DataError) as excinfo:
            load_image(path)
        assert str(path) in _message(excinfo), name
        assert expected in _message(excinfo), (name, _message(excinfo))


def test_pixel_limit(tmp_path):
    path = _flat(tmp_path / "big.png", size=(100, 100))
    assert load_image(path, max_pixels=10_000).shape == (100, 100, 3)
    with pytest.raises(DataError, match="over the limit") as excinfo:
        load_image(path, max_pixels=9_999)
    assert str(path) in _message(excinfo)
    np.save(tmp_path / "big.npy", np.zeros((100, 100, 3), np.uint8))
    with pytest.raises(DataError, match="over the limit"):
        load_image(tmp_path / "big.npy", max_pixels=5_000)


@pytest.mark.parametrize("pil_limit", [6_000, 4_000])  # warning zone (limit < pixels <= 2 limit), error zone
def test_pillow_decompression_bomb_becomes_a_data_error_not_a_warning(tmp_path, monkeypatch, pil_limit):
    path = _flat(tmp_path / "bomb.png", size=(100, 100))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", pil_limit)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(DataError, match="decompression bomb") as excinfo:
            load_image(path, max_pixels=None)
    assert str(path) in _message(excinfo)
    assert not [w for w in caught if issubclass(w.category, Image.DecompressionBombWarning)]


def test_find_images_is_recursive_sorted_and_skips_hidden(tmp_path):
    for relative in ["b/2.png", "b/10.JPG", "a.webp", "c/d/e.npy", ".hidden.png", ".cache/x.png", "notes.txt"]:
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
    found = [p.relative_to(tmp_path).as_posix() for p in find_images(tmp_path)]
    assert found == ["a.webp", "b/10.JPG", "b/2.png", "c/d/e.npy"]
    assert ".png" in IMAGE_SUFFIXES and ".npy" in IMAGE_SUFFIXES
    with pytest.raises(DataError, match="not found"):
        find_images(tmp_path / "nope")


def test_pictures_of_other_types_are_left_out_with_one_notice(tmp_path, capsys):
    from pbr_cli.data.imagefolder import read_emotion_folder

    for relative in ["lib/a/1.png", "lib/a/2.tif", "lib/b.HEIC", "lib/notes.txt", "lib/.x.tif"]:
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_bytes(b"x")
    found = [p.relative_to(tmp_path / "lib").as_posix() for p in find_images(tmp_path / "lib")]
    assert found == ["a/1.png"]
    err = capsys.readouterr().err
    assert err.count("note:") == 1 and "2 picture(s) of a type pbr does not read left out, e.g. 'a/2.tif'" in err
    left_out: list = []
    find_images(tmp_path / "lib", left_out)
    assert sorted(p.name for p in left_out) == ["2.tif", "b.HEIC"] and capsys.readouterr().err == ""
    find_images(tmp_path / "lib" / "a", [])  # nothing else there to mention
    for relative in ["emo/happiness/1.png", "emo/happiness/2.tiff", "emo/sadness/3.png", "emo/sadness/4.svg"]:
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (4, 4)).save(tmp_path / relative, format="PNG")
    images = read_emotion_folder(tmp_path / "emo")
    assert len(images.splits["train"]) == 2
    err = capsys.readouterr().err
    assert err.count("note:") == 1 and "2 picture(s)" in err and "'happiness/2.tiff'" in err


def test_safe_join_accepts_paths_inside_the_folder(tmp_path):
    root = tmp_path / "data"
    (root / "cat").mkdir(parents=True)
    (root / "cat" / "a.png").write_bytes(b"x")
    os.symlink(root / "cat" / "a.png", root / "link.png")
    assert safe_join(root, "cat/a.png", "path", must_exist=True) == root / "cat" / "a.png"
    assert safe_join(root, "cat/../cat/./a.png", "path") == root / "cat" / "a.png"
    assert safe_join(root, "link.png", "path", must_exist=True) == root / "link.png"
    assert safe_join(root, "not/yet.png", "path") == root / "not" / "yet.png"


def test_safe_join_refuses_paths_leaving_the_folder(tmp_path):
    root = tmp_path / "data"
    root.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.png").write_bytes(b"x")
    os.symlink(outside / "secret.png", root / "escape.png")
    os.symlink(outside, root / "escape_dir")
    source = root / "stickers.jsonl"
    cases = {
        "/etc/passwd": "absolute",
        "../outside/secret.png": "leaves the dataset folder",
        "cat/../../outside/secret.png": "leaves the dataset folder",
        "escape.png": "symlink",
        "escape_dir/secret.png": "symlink",
        "": "empty",
    }
    for relative, expected in cases.items():
        with pytest.raises(DataError) as excinfo:
            safe_join(root, relative, "line 3: path", source=source)
        assert expected in _message(excinfo), relative
        assert _message(excinfo).startswith(f"{source}: line 3: path"), _message(excinfo)
    with pytest.raises(DataError, match="does not exist"):
        ContainedFolder(root, source).join("cat/missing.png", "line 4: path", must_exist=True)


def test_parallel_loading_matches_serial(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    paths = [
        _flat(tmp_path / f"{i}.{suffix}", color=(i * 9, 255 - i * 9, 7), size=(32, 32))
        for i, suffix in enumerate(["png", "webp", "gif", "bmp"] * 6)
    ]
    serial = [load_image(path) for path in paths]
    with ThreadPoolExecutor(4) as pool:
        parallel = list(pool.map(load_image, paths))
    assert all((a == b).all() for a, b in zip(serial, parallel))


def test_find_images_follows_linked_folders_once(tmp_path):
    """A library made of linked topic folders was found empty of them; a link back up is walked once."""
    elsewhere = tmp_path / "elsewhere" / "tabby"
    elsewhere.mkdir(parents=True)
    _flat(elsewhere / "a.png")
    library = tmp_path / "library"
    (library / "mochi").mkdir(parents=True)
    _flat(library / "mochi" / "b.png")
    (library / "tabby").symlink_to(elsewhere, target_is_directory=True)
    (library / "mochi" / "loop").symlink_to(library, target_is_directory=True)
    (library / "again").symlink_to(library / "mochi", target_is_directory=True)
    found = [path.relative_to(library).as_posix() for path in find_images(library)]
    assert found == ["mochi/b.png", "tabby/a.png"]  # "again" and "loop" lead inside: walked as themselves
