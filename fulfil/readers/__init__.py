"""Readers of third-party benchmark formats (OR-Library, ...)."""

from .orlib import read_cflp, read_pmedian

__all__ = ["read_cflp", "read_pmedian"]
