"""
Keep the edge store correct: every change that can alter a lookup answer records what it makes stale.

A configuration change names the datastreams whose config entry it may change (their configs are read again
after the commit and stored only if different); a profile change names its identities' facts entries. No
configuration change touches a profile's entry, and an edit no answer depends on writes nothing to the store.
Everything is recorded in the writer's transaction (`invalidation.record`).
"""

from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver

from personalization import changes
from personalization.audiences.models import Audience, AudienceMembership
from personalization.datastreams.models import Datastream
from personalization.destinations.models import AttributeMapping, AudienceActivation, Destination
from personalization.edge import invalidation
from personalization.edge.store import identity_key
from personalization.governance.models import Label, MarketingAction, Policy
from personalization.profiles.models import Identity, IdentityNamespace, Profile, ProfileField

# Audience saves that only refresh bookkeeping (counts, evaluation time) do not change any answer.
_AUDIENCE_ANSWER_FIELDS = {"status", "expires_at", "rule", "evaluation", "origin"}


def _datastream_keys(sandbox_id) -> list:
    return [("ds", pk) for pk in Datastream.objects.filter(sandbox_id=sandbox_id).values_list("pk", flat=True)]


def _facts_keys(sandbox_id, identities) -> list:
    return [("pf", sandbox_id, identity_key(namespace, value)) for namespace, value in identities]


@receiver(changes.changing)
def record_change(sender, **kwargs):
    """Record what an announced change makes stale, in the announcing transaction."""
    if sender is changes.configuration_changed:
        # A bulk change of unnamed scope: every config of the sandbox, and a new profile generation.
        sandbox_id = kwargs["sandbox_id"]
        invalidation.record([("pgen", sandbox_id), *_datastream_keys(sandbox_id)])
    elif sender is changes.profiles_changed:
        identities = Identity.objects.filter(profile_id__in=kwargs["profile_ids"]).values_list(
            "namespace__code", "value"
        )
        invalidation.record(_facts_keys(kwargs["sandbox_id"], identities))
    elif sender is changes.identities_changed:
        invalidation.record(_facts_keys(kwargs["sandbox_id"], kwargs["identities"]))
    elif sender is changes.tokens_revoked:
        invalidation.record([("tok", digest) for digest in kwargs["digests"]])


# Model saves and deletes (admin, services, API) announce themselves; bulk writes announce explicitly.


@receiver([post_save, post_delete], sender=Datastream)
def datastream_changed(sender, instance, **kwargs):
    invalidation.record([("ds", instance.pk)])


@receiver([post_save, post_delete], sender=Destination)
def destination_changed(sender, instance, **kwargs):
    invalidation.record([("ds", instance.datastream_id)])


@receiver([post_save, post_delete], sender=IdentityNamespace)
@receiver([post_save, post_delete], sender=ProfileField)
def schema_changed(sender, instance, **kwargs):
    """Namespaces and field paths are part of every config of the sandbox (the identities and the mappings)."""
    invalidation.record(_datastream_keys(instance.sandbox_id))


@receiver([post_save, post_delete], sender=AudienceActivation)
@receiver([post_save, post_delete], sender=AttributeMapping)
def destination_child_changed(sender, instance, **kwargs):
    datastream_id = Destination.objects.filter(pk=instance.destination_id).values_list("datastream_id", flat=True)
    invalidation.record([("ds", pk) for pk in datastream_id])


@receiver([post_save, post_delete], sender=Audience)
def audience_changed(sender, instance, update_fields=None, **kwargs):
    """An audience is part of the configs of the datastreams it is activated on (its status, expiry, rule)."""
    if update_fields is not None and not (set(update_fields) & _AUDIENCE_ANSWER_FIELDS):
        return
    datastreams = (
        AudienceActivation.objects.filter(audience_id=instance.pk)
        .values_list("destination__datastream_id", flat=True)
        .distinct()
    )
    invalidation.record([("ds", pk) for pk in datastreams])


@receiver([post_save, post_delete], sender=Profile)
def profile_changed(sender, instance, **kwargs):
    changes.announce_profiles_changed(instance.sandbox_id, [instance.pk])


@receiver([post_save, post_delete], sender=Identity)
def identity_changed(sender, instance, **kwargs):
    code = IdentityNamespace.objects.filter(pk=instance.namespace_id).values_list("code", flat=True).first()
    if code is not None:
        changes.announce_identities_changed(instance.sandbox_id, [(code, instance.value)])


@receiver([post_save, post_delete], sender=AudienceMembership)
def membership_changed(sender, instance, **kwargs):
    sandbox_id = Audience.objects.filter(pk=instance.audience_id).values_list("sandbox_id", flat=True).first()
    if sandbox_id is not None:
        changes.announce_profiles_changed(sandbox_id, [instance.profile_id])


# Data usage governance: which mapped attributes a lookup may send is part of each config (`projection`).


@receiver([post_save, post_delete], sender=Policy)
@receiver(post_delete, sender=Label)
@receiver(post_delete, sender=MarketingAction)  # its destinations' links go with it, and no m2m signal says so
def governance_changed(sender, instance, **kwargs):
    invalidation.record(_datastream_keys(instance.sandbox_id))


@receiver(post_save, sender=Label)
def label_saved(sender, instance, created, **kwargs):
    """A new label is on no field yet; a saved one may have a new code, which policies name."""
    if not created:
        invalidation.record(_datastream_keys(instance.sandbox_id))


@receiver(m2m_changed, sender=Label.fields.through)
def labels_applied(sender, instance, action, **kwargs):
    """A label put on or taken off a field (from either side) may block or free a mapped attribute."""
    if action in ("post_add", "post_remove", "post_clear"):
        invalidation.record(_datastream_keys(instance.sandbox_id))


@receiver(m2m_changed, sender=Destination.marketing_actions.through)
def marketing_actions_changed(sender, instance, action, reverse, **kwargs):
    if action not in ("post_add", "post_remove", "post_clear"):
        return
    if reverse:  # a marketing action's destinations changed: all of its sandbox's configs
        invalidation.record(_datastream_keys(instance.sandbox_id))
    else:
        invalidation.record([("ds", instance.datastream_id)])
