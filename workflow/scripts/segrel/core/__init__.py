"""Helpers every stage uses: atomic outputs, label spaces, dataset formats, seeds, sharding,
devices, logs, figures."""
