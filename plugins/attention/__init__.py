"""Attention (chapter 15): scaled dot-product attention, a decoder-only transformer, a character GPT."""
