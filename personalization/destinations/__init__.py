"""
Destinations, their audience activations and attribute mappings, and the connect and activation wizards.

No tasks.py: nothing is pushed to a destination; lookups read activations through the edge's projection.
"""
