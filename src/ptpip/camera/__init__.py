"""The virtual camera: a PTP/IP responder over an object store and a property store."""
