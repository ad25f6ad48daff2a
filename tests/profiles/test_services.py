"""Profile schema services: the model's rules plus protecting fields and namespaces that are in use."""

import pytest

from django.core.exceptions import PermissionDenied, ValidationError

from accounts.constants import MANAGE_PROFILES, VIEW_PROFILES
from personalization.profiles.models import IdentityNamespace, ProfileField
from personalization.profiles.services import (
    identity_namespace_create,
    identity_namespace_delete,
    identity_namespace_update,
    profile_field_create,
    profile_field_delete,
    profile_field_update,
)
from tests.factories import (
    DestinationFactory,
    IdentityFactory,
    IdentityNamespaceFactory,
    MappingFactory,
    ProfileFieldFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager(user, sandbox, grant):
    grant(user, sandbox, VIEW_PROFILES, MANAGE_PROFILES)
    return user


@pytest.fixture
def viewer(user, sandbox, grant):
    grant(user, sandbox, VIEW_PROFILES)
    return user


# Profile fields


def test_a_manager_adds_a_profile_field(manager, sandbox):
    field = profile_field_create(user=manager, sandbox=sandbox, path="homeAddress.countryCode", field_type="string")

    assert ProfileField.objects.get(pk=field.pk).path == "homeAddress.countryCode"


def test_adding_a_field_that_overlaps_another_is_refused_and_nothing_is_saved(manager, sandbox):
    ProfileFieldFactory(sandbox=sandbox, path="loyalty")

    with pytest.raises(ValidationError) as excinfo:
        profile_field_create(user=manager, sandbox=sandbox, path="loyalty.points", field_type="number")

    assert "loyalty.points overlaps the existing field loyalty" in excinfo.value.message_dict["path"][0]
    assert ProfileField.objects.count() == 1


def test_a_viewer_cannot_add_a_profile_field(viewer, sandbox):
    with pytest.raises(PermissionDenied):
        profile_field_create(user=viewer, sandbox=sandbox, path="tier")

    assert not ProfileField.objects.exists()


def test_deleting_a_mapped_field_is_refused_naming_the_destinations(manager, sandbox):
    # given
    field = ProfileFieldFactory(sandbox=sandbox, path="homeAddress.countryCode")
    for name in ("Web banner", "App inbox"):
        destination = DestinationFactory(
            datastream__sandbox=sandbox, kind="custom_personalization_with_attributes", name=name
        )
        MappingFactory(destination=destination, source=field)
    # when
    with pytest.raises(ValidationError) as excinfo:
        profile_field_delete(user=manager, field=field)
    # then
    assert excinfo.value.messages == [
        "homeAddress.countryCode is mapped on these destinations; remove the mappings first: App inbox, Web banner."
    ]
    assert ProfileField.objects.filter(pk=field.pk).exists()


def test_an_unmapped_field_is_deleted(manager, sandbox):
    field = ProfileFieldFactory(sandbox=sandbox)

    profile_field_delete(user=manager, field=field)

    assert not ProfileField.objects.exists()


def test_a_viewer_cannot_delete_a_field(viewer, sandbox):
    field = ProfileFieldFactory(sandbox=sandbox)

    with pytest.raises(PermissionDenied):
        profile_field_delete(user=viewer, field=field)

    assert ProfileField.objects.filter(pk=field.pk).exists()


def test_changing_the_type_of_a_mapped_field_is_refused_naming_the_targets(manager, sandbox):
    field = ProfileFieldFactory(sandbox=sandbox, path="tier", field_type="string")
    MappingFactory(destination__datastream__sandbox=sandbox, source=field, target="loyaltyTier")

    with pytest.raises(ValidationError) as excinfo:
        profile_field_update(user=manager, field=field, field_type="array")

    assert excinfo.value.message_dict["field_type"] == [
        "Remove the attribute mappings that send this field (loyaltyTier) before changing its type."
    ]
    field.refresh_from_db()
    assert field.field_type == "string"


def test_the_description_of_a_mapped_field_can_change(manager, sandbox):
    field = ProfileFieldFactory(sandbox=sandbox)
    MappingFactory(destination__datastream__sandbox=sandbox, source=field)

    profile_field_update(user=manager, field=field, description="Shown on the homepage")

    field.refresh_from_db()
    assert field.description == "Shown on the homepage"


def test_a_viewer_cannot_change_a_field(viewer, sandbox):
    field = ProfileFieldFactory(sandbox=sandbox, description="")

    with pytest.raises(PermissionDenied):
        profile_field_update(user=viewer, field=field, description="Changed")

    field.refresh_from_db()
    assert field.description == ""


# Identity namespaces


def test_adding_a_namespace_with_an_invalid_code_is_refused(manager, sandbox):
    with pytest.raises(ValidationError) as excinfo:
        identity_namespace_create(user=manager, sandbox=sandbox, code="E-mail", name="E-mail")

    assert "code" in excinfo.value.message_dict
    assert not IdentityNamespace.objects.exists()


def test_adding_a_namespace_with_a_taken_code_is_refused(manager, sandbox):
    IdentityNamespaceFactory(sandbox=sandbox, code="Email")

    with pytest.raises(ValidationError):
        identity_namespace_create(user=manager, sandbox=sandbox, code="Email", name="Again")

    assert IdentityNamespace.objects.count() == 1


def test_a_viewer_cannot_add_a_namespace(viewer, sandbox):
    with pytest.raises(PermissionDenied):
        identity_namespace_create(user=viewer, sandbox=sandbox, code="CRMID", name="CRM")

    assert not IdentityNamespace.objects.exists()


def test_changing_the_code_of_a_namespace_identities_use_is_refused(manager, sandbox):
    # given
    identity = IdentityFactory(profile__sandbox=sandbox)
    namespace = identity.namespace
    # when
    with pytest.raises(ValidationError) as excinfo:
        identity_namespace_update(user=manager, namespace=namespace, code="ECID2")
    # then
    assert excinfo.value.message_dict["code"] == [
        "Identities already use this namespace; its code can no longer change."
    ]
    namespace.refresh_from_db()
    assert namespace.code == "ECID"


def test_a_used_namespace_can_still_be_renamed(manager, sandbox):
    namespace = IdentityFactory(profile__sandbox=sandbox).namespace

    identity_namespace_update(user=manager, namespace=namespace, name="Experience Cloud ID")

    namespace.refresh_from_db()
    assert namespace.name == "Experience Cloud ID"


def test_the_code_of_an_unused_namespace_can_change(manager, sandbox):
    namespace = IdentityNamespaceFactory(sandbox=sandbox, code="Emial")

    identity_namespace_update(user=manager, namespace=namespace, code="Email")

    namespace.refresh_from_db()
    assert namespace.code == "Email"


def test_deleting_a_namespace_identities_use_is_refused_with_their_count(manager, sandbox):
    first = IdentityFactory(profile__sandbox=sandbox)
    IdentityFactory(profile__sandbox=sandbox)

    with pytest.raises(ValidationError) as excinfo:
        identity_namespace_delete(user=manager, namespace=first.namespace)

    assert excinfo.value.messages == ["2 identities use the namespace ECID; it cannot be deleted."]
    assert IdentityNamespace.objects.filter(pk=first.namespace_id).exists()


def test_a_viewer_cannot_delete_a_namespace(viewer, sandbox):
    namespace = IdentityNamespaceFactory(sandbox=sandbox)

    with pytest.raises(PermissionDenied):
        identity_namespace_delete(user=viewer, namespace=namespace)

    assert IdentityNamespace.objects.filter(pk=namespace.pk).exists()
