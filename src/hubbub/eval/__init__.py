"""Evaluations of Hubbub's enrichment against labelled public data sets."""
