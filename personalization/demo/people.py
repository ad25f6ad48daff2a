"""Demo people: deterministic, varied profile attributes and identities."""

import datetime
import random
import unicodedata
import uuid

DEMO_NAMESPACE = uuid.UUID("6f1c3c0e-2f0b-5b8e-9a57-6b1d3b9e0c11")

# ---------------------------------------------------------------------------------------------------------------
# People.

COUNTRIES = {
    # code: (weight, first names, last names, cities)
    "US": (
        30,
        ["James", "Mary", "Robert", "Patricia", "Michael", "Jennifer", "David", "Linda", "Chris", "Ashley"],
        ["Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Wilson", "Taylor"],
        ["New York", "Chicago", "Austin", "Seattle", "Denver", "Boston"],
    ),
    "DE": (
        18,
        ["Lukas", "Anna", "Leon", "Mia", "Felix", "Lena", "Jonas", "Sophie", "Paul", "Marie"],
        ["Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Hoffmann", "Koch"],
        ["Berlin", "Hamburg", "München", "Köln", "Frankfurt am Main", "Leipzig"],
    ),
    "FR": (
        12,
        ["Louis", "Emma", "Gabriel", "Chloé", "Hugo", "Léa", "Jules", "Manon", "Arthur", "Camille"],
        ["Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy", "Moreau"],
        ["Paris", "Lyon", "Marseille", "Toulouse", "Nantes", "Lille"],
    ),
    "GB": (
        12,
        ["Oliver", "Olivia", "George", "Amelia", "Harry", "Isla", "Jack", "Ava", "Noah", "Emily"],
        ["Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Evans", "Thomas", "Roberts", "Walker"],
        ["London", "Manchester", "Bristol", "Leeds", "Glasgow", "Edinburgh"],
    ),
    "NL": (
        6,
        ["Daan", "Emma", "Sem", "Julia", "Lucas", "Tess", "Finn", "Sophie", "Levi", "Zoë"],
        ["de Jong", "Jansen", "de Vries", "van den Berg", "Bakker", "Visser", "Smit", "Meijer"],
        ["Amsterdam", "Rotterdam", "Utrecht", "Eindhoven"],
    ),
    "ES": (
        6,
        ["Hugo", "Lucía", "Martín", "Sofía", "Pablo", "Martina", "Daniel", "Julia", "Alejandro", "Paula"],
        ["García", "Rodríguez", "González", "Fernández", "López", "Martínez", "Sánchez", "Pérez"],
        ["Madrid", "Barcelona", "Valencia", "Sevilla", "Bilbao"],
    ),
    "IT": (
        6,
        ["Leonardo", "Sofia", "Francesco", "Giulia", "Alessandro", "Aurora", "Lorenzo", "Alice", "Mattia"],
        ["Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci"],
        ["Roma", "Milano", "Napoli", "Torino", "Bologna", "Firenze"],
    ),
    "JP": (
        5,
        ["Haruto", "Yui", "Sota", "Himari", "Yuto", "Aoi", "Riku", "Hina"],
        ["Sato", "Suzuki", "Takahashi", "Tanaka", "Watanabe", "Ito", "Yamamoto", "Nakamura"],
        ["Tokyo", "Osaka", "Yokohama", "Nagoya", "Sapporo", "Fukuoka"],
    ),
}
COUNTRY_CODES = list(COUNTRIES)
COUNTRY_WEIGHTS = [COUNTRIES[code][0] for code in COUNTRY_CODES]
EMAIL_DOMAINS = ["example.com", "example.org", "example.net"]
# Loyalty tiers with their weights and point ranges; ranges overlap, as balances do in real programmes.
LOYALTY_TIERS = {
    "bronze": (45, 0, 2500),
    "silver": (30, 1000, 6000),
    "gold": (18, 4000, 15000),
    "platinum": (7, 12000, 60000),
}
BIRTH_DATE_EPOCH = datetime.date(1950, 1, 1)


def demo_profile_id(sandbox_name: str, index: int) -> uuid.UUID:
    """The primary key of the demo profile number `index` in a sandbox (stable across machines)."""
    return uuid.uuid5(DEMO_NAMESPACE, "%s:profile:%d" % (sandbox_name, index))


def ascii_slug(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in folded.lower() if ch.isalnum())


def person(sandbox_name: str, index: int) -> tuple[dict, str, str | None]:
    """Return `(attributes, ecid, email)` for demo profile `index`, always the same for the same inputs."""
    rng = random.Random("cpc-demo:%s:%d" % (sandbox_name, index))
    country = rng.choices(COUNTRY_CODES, COUNTRY_WEIGHTS)[0]
    _weight, first_names, last_names, cities = COUNTRIES[country]
    first, last = rng.choice(first_names), rng.choice(last_names)
    attributes = {
        "person": {"name": {"firstName": first, "lastName": last}},
        "homeAddress": {"countryCode": country, "city": rng.choice(cities)},
    }
    if rng.random() < 0.95:
        birth = BIRTH_DATE_EPOCH + datetime.timedelta(days=rng.randrange(0, 20000))
        attributes["person"]["birthDate"] = birth.isoformat()
    if rng.random() < 0.8:
        tier = rng.choices(list(LOYALTY_TIERS), [weight for weight, _lo, _hi in LOYALTY_TIERS.values()])[0]
        _weight, low, high = LOYALTY_TIERS[tier]
        attributes["loyalty"] = {"status": tier, "points": rng.randrange(low, high + 1)}
    email = None
    if rng.random() < 0.85:
        email = "%s.%s%d@%s" % (ascii_slug(first), ascii_slug(last), index, rng.choice(EMAIL_DOMAINS))
        attributes["personalEmail"] = {"address": email}
    if rng.random() < 0.9:
        attributes["consents"] = {"marketing": rng.random() < (0.6 if email else 0.3)}
    ecid = str(10**37 + demo_profile_id(sandbox_name, index).int % (9 * 10**37))  # 38 digits
    return attributes, ecid, email
