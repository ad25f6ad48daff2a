"""
Datastreams: the configuration a lookup request names, and whether it serves personalization destinations.

No selectors.py: views and the API read through `restrict()`, and the edge reads datastreams in its own projection.
No tasks.py: nothing here runs in the background.
"""
