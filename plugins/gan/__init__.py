"""Generative adversarial networks (chapter 14.3): a DCGAN and scores for any image generator."""
