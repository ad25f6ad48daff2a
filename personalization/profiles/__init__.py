"""
Profiles, their identities and identity namespaces, and the profile schema (fields and their types).

No selectors.py: views and the API read through `restrict()`; identity formats are in identities.py. No tasks.py:
profile writes are synchronous. The profiles API endpoint lives in `audiences.profile_api` (it lists memberships).
"""
