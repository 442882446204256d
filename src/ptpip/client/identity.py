"""The initiator's identity (GUID and friendly name), persisted per camera.

Cameras pair on the (GUID, name) pair: Canon, Nikon, Sony and Fuji reject a client they do not
know, so the same identity must come back on every connection. It lives in
``$XDG_CONFIG_HOME/ptpip/identities.json`` (``~/.config`` by default).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Identity", "IdentityStore", "config_dir", "default_name", "parse_guid"]

#: Fuji's name field holds 26 characters (vendor-fuji.md §2.1); keep defaults within it.
_MAX_DEFAULT_NAME = 26


@dataclass(frozen=True, slots=True)
class Identity:
    guid: bytes
    name: str

    @property
    def guid_text(self) -> str:
        return str(uuid.UUID(bytes=self.guid))


def config_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "ptpip"


def default_name() -> str:
    host = socket.gethostname().split(".")[0] or "host"
    return f"ptpip-{host}"[:_MAX_DEFAULT_NAME]


def parse_guid(text: str) -> bytes:
    """A GUID from uuid text, 32 hex digits, or 16 colon-separated bytes (gphoto2's form)."""
    cleaned = text.strip().strip('"').replace(":", "").replace("-", "").replace(" ", "")
    if cleaned.lower().startswith("0x"):
        cleaned = cleaned[2:]
    try:
        raw = bytes.fromhex(cleaned)
    except ValueError:
        raise ValueError(f"invalid GUID {text!r}: expected 32 hex digits or a UUID") from None
    if len(raw) != 16:
        raise ValueError(f"invalid GUID {text!r}: {len(raw)} bytes, expected 16")
    return raw


class IdentityStore:
    """A JSON file mapping a camera key (vendor and address) to the identity used with it."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or config_dir() / "identities.json"

    def _load(self) -> dict[str, dict[str, str]]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def get(self, key: str) -> Identity | None:
        entry = self._load().get(key)
        if not isinstance(entry, dict):
            return None
        try:
            return Identity(parse_guid(str(entry["guid"])), str(entry["name"]))
        except (KeyError, ValueError):
            return None

    def identity_for(
        self, key: str, *, guid: bytes | None = None, name: str | None = None
    ) -> Identity:
        """The stored identity for ``key`` (created and saved on first use).

        Explicit ``guid`` / ``name`` override the stored values for this connection only.
        """
        stored = self.get(key)
        if stored is None:
            stored = Identity(uuid.uuid4().bytes, default_name())
            with contextlib.suppress(OSError):  # a read-only home must not stop a connection
                self.put(key, stored)
        return Identity(guid or stored.guid, name or stored.name)

    def put(self, key: str, identity: Identity) -> None:
        data = self._load()
        data[key] = {"guid": identity.guid_text, "name": identity.name}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".identities-")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(data, fh, indent=2, sort_keys=True)
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
