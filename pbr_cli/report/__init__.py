"""Pictures of results: the paper's analysis plots (Fig. 1b, 4, 5) and ranked sticker sheets as PNG or HTML."""
