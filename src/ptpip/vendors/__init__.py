"""Vendor dialects: codes, value tables and wire codecs per camera maker."""
