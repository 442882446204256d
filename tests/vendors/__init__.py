"""Vendor codecs and value tables."""
