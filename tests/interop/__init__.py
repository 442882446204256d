"""Interop tests: stock third-party programs (gphoto2, tshark) against the virtual camera."""
