"""
Users, sandboxes, roles, permission rules (`permissions.restrict()`), personal tokens and API credentials.

No selectors.py: the reads are the scoping functions in permissions.py (`restrict`, `sandboxes_visible_to`). No
tasks.py: nothing here runs in the background.
"""
