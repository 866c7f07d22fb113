"""Enrichment steps: one module per step, each defining ``STEPS = [...]`` (found by registry)."""
