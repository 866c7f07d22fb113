"""Hubbub: multilingual analysis of public opinion in public social-media data."""

__version__ = "0.1.0"
