"""Facility location engines on plain arrays: capacitated (CFLP) and p-median."""

from .graph import shortest_path_matrix

__all__ = ["shortest_path_matrix"]
