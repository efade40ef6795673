"""Toucan-1.5M: stream the dataset (hub or local mirror), filter, sample, convert to records."""

from .convert import Reject, convert_row
from .load import LoadConfig, LoadSummary, load_toucan

__all__ = ["LoadConfig", "LoadSummary", "Reject", "convert_row", "load_toucan"]
