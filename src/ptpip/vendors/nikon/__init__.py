"""Nikon: D-series and Z bodies over PTP/IP (built-in Wi-Fi, WT transmitters, WU adapters)."""
