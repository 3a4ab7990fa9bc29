"""The training loop, its step context, checkpoints and run logging."""
