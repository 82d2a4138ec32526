"""pbr: sticker response selection (Perceive before Respond) from the command line."""

__version__ = "0.1.0"
