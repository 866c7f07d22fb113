"""Cross-lingual topics: the model (fit on a bounded sample, streaming assignment), its keywords and
labels, and its tables in the store. The ``topic`` enrichment step (``enrich/steps/topic.py``) ties
them to the runner; docs/topics.md describes the method."""
