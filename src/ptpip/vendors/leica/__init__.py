"""Leica: LEGetStreamData (0x9025) live-view payloads."""
