"""The shared model core: image and text towers, fusion encoder, heads, named configs, checkpoints."""
