"""Convolutional networks (chapters 7 and 11 of the book): LeNet-style, all-convolutional, ResNet."""
