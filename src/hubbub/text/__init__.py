"""Text utilities shared by enrichment steps (tokenisation, stop words)."""
