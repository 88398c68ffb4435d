"""Generators of the reference appendices and the performance chapter (run ``scripts/gen_docs.py``)."""
