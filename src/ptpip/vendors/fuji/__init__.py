"""Fujifilm X: 0x902B property lists, 0xD212 state, live-view frames and value tables."""
