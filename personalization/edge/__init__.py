"""
The edge: the lookup endpoints (views.py), the edge store in Redis and its projection of the database.

The rooms have other names here: the reads are projection.py, the writes credentials.py (tokens) and
invalidation.py (the store), and the API is the lookup endpoints in views.py, not a management viewset. No
tasks.py: invalidations apply when their transaction commits, and a rebuild is a management command.
"""
