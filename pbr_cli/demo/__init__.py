"""The synthetic demo dataset (stickers, emotion images, Chinese dialogues) and the `pbr demo` pipeline."""
