"""Keep the edge store correct: every change that can alter a lookup answer drops the stale entries."""

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from personalization import changes
from personalization.audiences.models import Audience, AudienceMembership
from personalization.datastreams.models import Datastream
from personalization.destinations.models import AttributeMapping, AudienceActivation, Destination
from personalization.edge.store import identity_key, store
from personalization.profiles.models import Identity, IdentityNamespace, Profile, ProfileField

# Audience saves that only refresh bookkeeping (counts, evaluation time) do not change any answer.
_AUDIENCE_ANSWER_FIELDS = {"status", "expires_at"}


def _datastream_ids(sandbox_id) -> list[str]:
    return [str(pk) for pk in Datastream.objects.filter(sandbox_id=sandbox_id).values_list("pk", flat=True)]


@receiver(changes.configuration_changed)
def forget_configuration(sender, sandbox_id, **kwargs):
    store.forget_config(sandbox_id, _datastream_ids(sandbox_id))


@receiver(changes.profiles_changed)
def forget_profiles(sender, sandbox_id, profile_ids, **kwargs):
    identities = Identity.objects.filter(profile_id__in=profile_ids).values_list("namespace__code", "value")
    store.forget_projections(_datastream_ids(sandbox_id), [identity_key(ns, value) for ns, value in identities])


@receiver(changes.identities_changed)
def forget_identities(sender, sandbox_id, identities, **kwargs):
    store.forget_projections(_datastream_ids(sandbox_id), [identity_key(ns, value) for ns, value in identities])


@receiver(changes.tokens_revoked)
def forget_tokens(sender, digests, **kwargs):
    store.forget_tokens(digests)


# Model saves and deletes (admin, services, API) announce themselves; bulk writes announce explicitly.


@receiver([post_save, post_delete], sender=Datastream)
@receiver([post_save, post_delete], sender=Destination)
@receiver([post_save, post_delete], sender=IdentityNamespace)
@receiver([post_save, post_delete], sender=ProfileField)
def configuration_row_changed(sender, instance, **kwargs):
    changes.announce_configuration_changed(instance.sandbox_id)


@receiver([post_save, post_delete], sender=AudienceActivation)
@receiver([post_save, post_delete], sender=AttributeMapping)
def destination_child_changed(sender, instance, **kwargs):
    sandbox_id = Destination.objects.filter(pk=instance.destination_id).values_list("sandbox_id", flat=True).first()
    if sandbox_id is not None:
        changes.announce_configuration_changed(sandbox_id)


@receiver([post_save, post_delete], sender=Audience)
def audience_changed(sender, instance, update_fields=None, **kwargs):
    if update_fields is not None and not (set(update_fields) & _AUDIENCE_ANSWER_FIELDS):
        return
    changes.announce_configuration_changed(instance.sandbox_id)


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
