"""Validated public ops, one module per kernel family (forward and *_backward)."""
