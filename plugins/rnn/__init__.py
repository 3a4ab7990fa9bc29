"""Recurrent networks (chapter 12): Elman, LSTM and GRU cells, character language models, sampling."""
