"""Sources: one module per input format (see base.py for the interface)."""
