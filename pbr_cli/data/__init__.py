"""Dataset readers (one per format), images, candidate sets, tokenisation and transforms."""
