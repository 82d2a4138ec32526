"""The demo's sticker characters (topics): silhouette, ears, decorations, palette and line style."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Character:
    """One sticker character (a topic): body silhouette, ears, decorations, palette and line style."""

    name: str
    body: str  # silhouette key, see _BODIES
    ears: str = "none"  # top / side silhouette parts, see _EARS
    details: tuple[str, ...] = ()  # decorations drawn over the body, see _DETAILS
    fill: str = "#ffffff"  # body colour
    light: str = "#ffffff"  # belly, muzzle and inner-ear colour
    accent: str = "#ff9db5"  # beaks, bows, spikes
    ink: str = "#3b2f2f"  # outline and face lines
    line: float = 2.2  # outline width in pixels at 128 px
    eye_y: float = -0.08  # eye height in body units (body radius = 1, y grows downward)
    eye_gap: float = 0.36  # horizontal distance of each eye from the centre line
    mouth_y: float = 0.26  # mouth height in body units
    eye_ink: str | None = None  # eye colour where it differs from `ink` (dark eye patches)


# The sticker library's characters; `TEACHER_CHARACTERS` are others, for the emotion-labelled set.
LIBRARY_CHARACTERS: tuple[Character, ...] = (
    Character("mochi", "round", fill="#fdf3ea", light="#ffffff", ink="#5a4636"),
    Character(
        "tabby",
        "round",
        "cat",
        ("stripes", "whiskers", "tail"),
        fill="#f6b26b",
        light="#fde3c4",
        accent="#f48fb1",
        ink="#5b3a1e",
    ),
    Character("cocoa", "round", "bear", ("muzzle",), fill="#b07a4f", light="#ecd2b2", ink="#3e2616", mouth_y=0.34),
    Character(
        "bunbun",
        "tall",
        "rabbit",
        ("belly",),
        fill="#ffffff",
        light="#fff0f5",
        accent="#f8a5c2",
        ink="#4a4a6a",
        line=2.0,
    ),
    Character(
        "peep", "round", "tuft", ("beak", "wings"), fill="#ffe066", accent="#ff9f1c", ink="#6b4a12", mouth_y=0.36
    ),
    Character("boo", "ghost", fill="#f3f6ff", ink="#56648a", line=2.4, eye_y=-0.12),
    Character("tofu", "square", details=("sheen",), fill="#fffaf0", light="#ffffff", ink="#6b5b45", line=2.6),
    Character("jelly", "capsule", details=("sheen",), fill="#b9a3e3", light="#e6dcf7", ink="#45326e"),
    Character(
        "ribbit",
        "wide",
        "frog",
        ("belly",),
        fill="#8fcf6a",
        light="#e3f4c9",
        ink="#2f4d1f",
        eye_y=-0.72,
        eye_gap=0.5,
        mouth_y=0.12,
    ),
    Character(
        "waddle",
        "egg",
        "flippers",
        ("face_patch", "beak", "belly"),
        fill="#3f4f74",
        light="#ffffff",
        accent="#ffa94d",
        ink="#1f2638",
        mouth_y=0.34,
    ),
    Character(
        "shiba", "round", "dog", ("muzzle", "cheek_fur"), fill="#e9a15b", light="#fff3e0", ink="#4e2c10", mouth_y=0.34
    ),
    Character(
        "bamboo",
        "round",
        "panda",
        ("patches",),
        fill="#ffffff",
        light="#ffffff",
        accent="#2b2b2b",
        ink="#232323",
        eye_ink="#ffffff",
    ),
    Character(
        "squeak",
        "round",
        "mouse",
        ("whiskers", "tail_thin"),
        fill="#c7c9d6",
        light="#f6c1cf",
        accent="#f6a5c0",
        ink="#44465a",
    ),
    Character(
        "oink",
        "round",
        "pig",
        ("snout",),
        fill="#ffc4d0",
        light="#ffe3ea",
        accent="#f28ba5",
        ink="#7a3147",
        mouth_y=0.44,
    ),
    Character("kit", "round", "fox", ("fox_cheeks", "tail_fox"), fill="#f28a3c", light="#fff4e6", ink="#4a2410"),
    Character("nibbles", "wide", "small", ("pouches", "belly"), fill="#f4c48f", light="#fff4e4", ink="#6b4320"),
    Character("quack", "round", "tuft", ("bill",), fill="#ffffff", accent="#ffa726", ink="#4d4d4d", mouth_y=0.4),
    Character("inky", "dome", "tentacles", ("spots",), fill="#ff9e80", light="#ffd0c2", ink="#6d2b1c", mouth_y=0.3),
    Character("rex", "egg", "spikes", ("belly",), fill="#74c7a5", light="#dff5ea", accent="#f6c85f", ink="#1f4d3b"),
    Character(
        "onigiri",
        "triangle",
        details=("nori",),
        fill="#ffffff",
        light="#2e3d2c",
        ink="#2d2d2d",
        eye_y=0.0,
        mouth_y=0.3,
        eye_gap=0.32,
    ),
    Character("twinkle", "star", fill="#ffd95a", ink="#7a5a00", eye_y=0.0, mouth_y=0.3, eye_gap=0.28),
    Character("fluff", "cloud", fill="#eef5ff", ink="#5e7ea8", line=2.4),
    Character(
        "eggy",
        "round",
        "tuft",
        ("shell",),
        fill="#ffe58a",
        light="#ffffff",
        accent="#ff9f1c",
        ink="#6b5212",
        eye_y=-0.2,
        mouth_y=0.12,
    ),
    Character("bao", "dome", details=("pleats",), fill="#fbf1e1", ink="#7a5c3a", eye_y=0.1, mouth_y=0.42),
    Character(
        "blubber", "wide", "flippers", ("whiskers", "muzzle_dots"), fill="#a9bcc8", light="#e5eef3", ink="#34495e"
    ),
    Character("woolly", "round", "wool", ("face_patch",), fill="#ffffff", light="#f3dcc0", ink="#5b4636"),
    Character(
        "prickle",
        "capsule",
        "cactus_arms",
        ("spines", "flower_top"),
        fill="#7cc47f",
        light="#c8ecc9",
        accent="#f48fb1",
        ink="#235a2a",
    ),
    Character(
        "hoot",
        "round",
        "owl",
        ("belly_feathers", "eye_discs", "beak"),
        fill="#a68772",
        light="#efdcc8",
        accent="#f9a825",
        ink="#3e2a1d",
        mouth_y=0.36,
    ),
)

TEACHER_CHARACTERS: tuple[Character, ...] = (
    Character("koala", "round", "koala", ("big_nose",), fill="#a3a7ad", light="#e8e9ec", ink="#33373d", mouth_y=0.38),
    Character("monkey", "round", "monkey", ("face_patch",), fill="#8d6e63", light="#f3d9c4", ink="#3b2a22"),
    Character(
        "slime", "drop", details=("sheen",), fill="#7cc0f5", light="#dff0fd", ink="#1f4e7a", eye_y=0.12, mouth_y=0.45
    ),
    Character(
        "robot",
        "square",
        details=("antenna", "bolts"),
        fill="#cfd8dc",
        light="#eceff1",
        accent="#ef5350",
        ink="#37474f",
        line=2.6,
    ),
    Character(
        "mushroom",
        "mushroom",
        details=("spots",),
        fill="#fff3e0",
        light="#ffffff",
        accent="#e57373",
        ink="#5d3a2e",
        eye_y=0.28,
        mouth_y=0.58,
    ),
    Character("whale", "wide", "whale_tail", ("spout", "belly"), fill="#5fb8e8", light="#dff1fb", ink="#1c4a66"),
    Character("peach", "round", details=("leaf", "cleft"), fill="#ffb59e", light="#ffe1d6", ink="#7a3b2a"),
    Character(
        "pudding",
        "pudding",
        details=("caramel",),
        fill="#ffe08a",
        light="#fff6d5",
        accent="#8d5524",
        ink="#6b4a12",
        eye_y=0.1,
        mouth_y=0.42,
    ),
    Character(
        "tiger",
        "round",
        "bear",
        ("tiger_stripes", "muzzle"),
        fill="#ffb74d",
        light="#fff3e0",
        ink="#3e2723",
        mouth_y=0.34,
    ),
    Character(
        "bee",
        "round",
        "bee_wings",
        ("antenna_pair", "bee_stripes"),
        fill="#ffd54f",
        light="#e3f2fd",
        accent="#3b3b3b",
        ink="#3b3b3b",
        mouth_y=0.24,
    ),
    Character("bat", "round", "bat", ("face_patch",), fill="#7e57c2", light="#ede7f6", ink="#2a1b4a"),
    Character(
        "snowy",
        "round",
        "none",
        ("hat", "carrot"),
        fill="#ffffff",
        light="#ffffff",
        accent="#e53935",
        ink="#3d4f66",
        mouth_y=0.36,
    ),
)
