"""The loopback demo behind README command one (``scripts/demo``)."""
