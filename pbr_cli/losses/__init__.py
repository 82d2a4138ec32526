"""Loss functions, one module per paper component; pure functions over tensors."""
