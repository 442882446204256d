"""Finding cameras on the network (SSDP for Canon; others use their own schemes)."""
