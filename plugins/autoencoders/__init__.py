"""Autoencoders (chapter 13): linear, deep, convolutional, denoising and sparse."""
