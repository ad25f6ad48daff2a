"""
The product's core data usage vocabulary, in every sandbox: the core labels (C1–C12, I1, I2, S1, S2), the core
marketing actions, and the core policies, which ship disabled (drafts) as in the product: marketing actions and
labels restrict nothing until an admin enables a policy.
"""

from django.db import transaction

__all__ = ["CORE_LABELS", "CORE_MARKETING_ACTIONS", "CORE_POLICIES", "catalogue_ensure"]

CORE_LABELS = (
    ("C1", "Export aggregated only", "Export only aggregated data, without individual or device ids.", "contract"),
    ("C2", "No third-party export", "Data cannot be exported to a third party.", "contract"),
    ("C3", "No combining with identifiable data", "Do not combine with directly identifiable data.", "contract"),
    (
        "C4",
        "No ad or content targeting",
        "No targeting of any ads or content, on-site or cross-site (includes C5, C6 and C7).",
        "contract",
    ),
    ("C5", "No interest-based cross-site targeting", "No interest-based targeting across sites.", "contract"),
    ("C6", "No on-site ad targeting", "Data cannot be used to target ads on your own sites.", "contract"),
    ("C7", "No on-site content targeting", "Data cannot be used to personalize content on your sites.", "contract"),
    ("C8", "No measurement", "No measurement of your sites or apps.", "contract"),
    ("C9", "No data science", "Data cannot be used in data science workflows.", "contract"),
    ("C10", "No stitched-identity activation", "Do not activate identities stitched across devices.", "contract"),
    ("C11", "No segment match", "Data cannot be used in Segment Match.", "contract"),
    (
        "C12",
        "No export of any kind",
        "No export of any kind: excluded from downloads, the API and activation.",
        "contract",
    ),
    ("I1", "Directly identifiable", "Identifies a person directly (name, email address).", "identity"),
    ("I2", "Indirectly identifiable", "Identifies a person when combined with other data.", "identity"),
    ("S1", "Precise location", "Precise latitude and longitude.", "sensitive"),
    ("S2", "Broad geofence", "Location as a broad area.", "sensitive"),
)

CORE_MARKETING_ACTIONS = (
    ("analytics", "Analytics", "Measure and analyse how people use your sites and apps."),
    ("combine-with-pii", "Combine with directly identifiable data", "Join this data with directly identifiable data."),
    ("cross-site-targeting", "Cross Site Targeting", "Target ads or content across sites."),
    ("data-science", "Data Science", "Use data in data science workflows."),
    ("email-targeting", "Email Targeting", "Target people by email."),
    ("export-to-third-party", "Export to Third Party", "Send data to a third party."),
    ("onsite-advertising", "Onsite Advertising", "Target ads on your own sites and apps."),
    ("onsite-personalization", "Onsite Personalization", "Personalize content on your own sites and apps."),
    ("segment-match", "Segment Match", "Share audiences with partners through Segment Match."),
    (
        "single-identity-personalization",
        "Single Identity Personalization",
        "Personalize with one identity, without a stitched graph.",
    ),
)


def _any(*codes):
    return (
        {"operator": "OR", "operands": [{"label": code} for code in codes]} if len(codes) > 1 else {"label": codes[0]}
    )


# (name, description, marketing action key, deny expression): the product's eight core policies, as drafts.
CORE_POLICIES = (
    ("Restrict data export to third parties", "Core policy: C2 or C12 data is not exported.", "export-to-third-party",
     _any("C2", "C12")),
    ("Restrict onsite advertising", "Core policy: C4 or C6 data targets no ads on your sites.", "onsite-advertising",
     _any("C4", "C6")),
    ("Restrict onsite personalization", "Core policy: C4 or C7 data personalizes no content on your sites.",
     "onsite-personalization", _any("C4", "C7")),
    ("Restrict cross-site targeting", "Core policy: C4 or C5 data targets nothing across sites.",
     "cross-site-targeting", _any("C4", "C5")),
    ("Restrict data science", "Core policy: C9 data stays out of data science.", "data-science", _any("C9")),
    ("Restrict combining with directly identifiable data", "Core policy: C3 data is not joined with PII.",
     "combine-with-pii", _any("C3")),
    ("Restrict segment match", "Core policy: C11 data is not shared through Segment Match.", "segment-match",
     _any("C11")),
    ("Restrict measurement", "Core policy: C8 data measures nothing.", "analytics", _any("C8")),
)  # fmt: skip


@transaction.atomic
def catalogue_ensure(sandbox, *, models=None) -> int:
    """
    Create whatever part of the core vocabulary a sandbox lacks (labels, marketing actions, draft policies);
    return how many rows it created. `models` lets a data migration pass its historical models.
    """
    if models is None:
        from personalization.governance.models import Label, MarketingAction, Policy
    else:
        Label, MarketingAction, Policy = models
    created = 0
    have = set(Label.objects.filter(sandbox=sandbox).values_list("code", flat=True))
    for code, name, description, category in CORE_LABELS:
        if code not in have:
            Label.objects.create(sandbox=sandbox, code=code, name=name, description=description, category=category)
            created += 1
    actions = {action.key: action for action in MarketingAction.objects.filter(sandbox=sandbox)}
    for key, name, description in CORE_MARKETING_ACTIONS:
        if key not in actions:
            actions[key] = MarketingAction.objects.create(sandbox=sandbox, key=key, name=name, description=description)
            created += 1
    named = set(Policy.objects.filter(sandbox=sandbox).values_list("name", flat=True))
    for name, description, action_key, deny in CORE_POLICIES:
        if name not in named:
            Policy.objects.create(
                sandbox=sandbox,
                name=name,
                description=description,
                marketing_action=actions[action_key],
                deny=deny,
                status="draft",
            )
            created += 1
    return created
