"""
Demo data for the embedded mode and for trying the product out: `python manage.py seed_demo`.

Everything is written through the domain services as the demo admin (who holds the Admin role), so the demo
obeys the same validation and permission rules as the UI and the API. Profiles, identities and memberships are
many, so each is validated with `full_clean()` (field validators and the model's `clean()`) and they are
inserted with `bulk_create`; the database's unique and check constraints guard those inserts.

Every step looks for what it would create first, so seeding twice changes nothing. The data is deterministic:
each profile comes from a random generator seeded with its sandbox and index, and its primary key is a UUIDv5
of the same, so the same `--profiles N` gives the same people on every machine.

- `catalog`: what the demo holds (users and roles, schema, governance vocabulary, audiences, destinations).
- `people`: the generated profiles and identities.
- `seeding`: `seed()`, which creates what is missing, and the embedded mode's remembered logins.
"""

from personalization.demo.catalog import DEMO_USERS, DEV, PROD
from personalization.demo.people import demo_profile_id, person
from personalization.demo.seeding import DEFAULT_PROFILES, SeedResult, recall_logins, remember_logins, seed

__all__ = [
    "DEFAULT_PROFILES",
    "DEMO_USERS",
    "DEV",
    "PROD",
    "SeedResult",
    "demo_profile_id",
    "person",
    "recall_logins",
    "remember_logins",
    "seed",
]
