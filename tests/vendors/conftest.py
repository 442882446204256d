"""The dialects' tests run the client against in-loop virtual cameras, as tests/client does:
the same fixtures (a private config folder, a card, an identity store, …)."""

from tests.client.conftest import _private_config, card, faults, id_store

__all__ = ["_private_config", "card", "faults", "id_store"]
