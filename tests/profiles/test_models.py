"""Profile rules: schema paths (unique, dotted, non-overlapping), namespaces, identities and their sandbox."""

import pytest

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import IntegrityError, transaction

from personalization.profiles.models import Identity, IdentityNamespace, Profile, ProfileField
from personalization.validators import dotted_path_validator, namespace_code_validator
from tests.factories import IdentityFactory, IdentityNamespaceFactory, ProfileFactory, ProfileFieldFactory

pytestmark = pytest.mark.django_db


# ProfileField


def test_two_profile_fields_in_one_sandbox_cannot_share_a_path(sandbox):
    ProfileFieldFactory(sandbox=sandbox, path="person.name")

    with pytest.raises(ValidationError) as excinfo:
        ProfileField(sandbox=sandbox, path="person.name").full_clean()

    assert excinfo.value.message_dict[NON_FIELD_ERRORS] == ["This sandbox already has a profile field with this path."]


def test_the_database_refuses_a_second_profile_field_with_the_same_path(sandbox):
    ProfileFieldFactory(sandbox=sandbox, path="person.name")

    with pytest.raises(IntegrityError), transaction.atomic():
        ProfileField.objects.create(sandbox=sandbox, path="person.name")


def test_the_same_path_is_fine_in_another_sandbox(sandbox, other_sandbox):
    ProfileFieldFactory(sandbox=sandbox, path="person.name")

    ProfileField(sandbox=other_sandbox, path="person.name").full_clean()


@pytest.mark.parametrize("path", ["homeAddress.countryCode", "loyalty", "_internal.v2_score", "a.b.c.d"])
def test_dotted_paths_of_identifiers_are_accepted(path):
    dotted_path_validator(path)


@pytest.mark.parametrize("path", ["home address", "1st.field", "a..b", ".a", "a.", "home-address", "a/b", ""])
def test_a_path_that_is_not_a_dotted_path_is_refused_with_an_example(sandbox, path):
    with pytest.raises(ValidationError) as excinfo:
        ProfileField(sandbox=sandbox, path=path).full_clean()

    assert excinfo.value.message_dict["path"][-1] in (
        "Use a dotted path of letters, digits and underscores, e.g. homeAddress.countryCode.",
        "This field cannot be blank.",
    )


def test_a_child_of_an_existing_field_is_refused_naming_both_paths(sandbox):
    # given
    ProfileFieldFactory(sandbox=sandbox, path="loyalty")
    # when
    with pytest.raises(ValidationError) as excinfo:
        ProfileField(sandbox=sandbox, path="loyalty.status").full_clean()
    # then
    assert excinfo.value.message_dict["path"] == [
        "loyalty.status overlaps the existing field loyalty; a path cannot hold a value and children."
    ]


def test_a_parent_of_an_existing_field_is_refused_naming_both_paths(sandbox):
    ProfileFieldFactory(sandbox=sandbox, path="loyalty.tier.name")

    with pytest.raises(ValidationError) as excinfo:
        ProfileField(sandbox=sandbox, path="loyalty").full_clean()

    assert excinfo.value.message_dict["path"] == [
        "loyalty overlaps the existing field loyalty.tier.name; a path cannot hold a value and children."
    ]


def test_paths_that_only_share_a_prefix_of_characters_do_not_overlap(sandbox):
    ProfileFieldFactory(sandbox=sandbox, path="loyalty")
    ProfileFieldFactory(sandbox=sandbox, path="home.city")

    ProfileField(sandbox=sandbox, path="loyaltyPoints").full_clean()
    ProfileField(sandbox=sandbox, path="home.cityCode").full_clean()


def test_paths_overlapping_a_field_of_another_sandbox_are_fine(sandbox, other_sandbox):
    ProfileFieldFactory(sandbox=other_sandbox, path="loyalty")

    ProfileField(sandbox=sandbox, path="loyalty.status").full_clean()


def test_a_saved_field_does_not_overlap_itself(sandbox):
    field = ProfileFieldFactory(sandbox=sandbox, path="loyalty.status")

    field.description = "Gold, silver or bronze"
    field.full_clean()


@pytest.mark.parametrize(
    ("field_type", "scalar"),
    [("string", True), ("number", True), ("boolean", True), ("date", True), ("array", False), ("map", False)],
)
def test_only_string_number_boolean_and_date_fields_are_scalar(field_type, scalar):
    assert ProfileField(field_type=field_type).is_scalar is scalar


# IdentityNamespace


def test_two_namespaces_in_one_sandbox_cannot_share_a_code(sandbox):
    IdentityNamespaceFactory(sandbox=sandbox, code="Email")

    with pytest.raises(ValidationError) as excinfo:
        IdentityNamespace(sandbox=sandbox, code="Email", name="E-mail").full_clean()
    assert excinfo.value.message_dict[NON_FIELD_ERRORS] == [
        "This sandbox already has an identity namespace with this code."
    ]

    with pytest.raises(IntegrityError), transaction.atomic():
        IdentityNamespace.objects.create(sandbox=sandbox, code="Email", name="E-mail")


def test_namespace_codes_are_case_sensitive(sandbox):
    IdentityNamespaceFactory(sandbox=sandbox, code="Email")

    IdentityNamespace.objects.create(sandbox=sandbox, code="EMAIL", name="Upper-case e-mail")

    assert IdentityNamespace.objects.filter(sandbox=sandbox).count() == 2


@pytest.mark.parametrize("code", ["ECID", "Email_LC_SHA256", "CRMID", "Phone"])
def test_namespace_codes_of_letters_digits_and_underscores_are_accepted(code):
    namespace_code_validator(code)


@pytest.mark.parametrize("code", ["E-mail", "1ECID", "_ECID", "Email LC", "E" * 65])
def test_a_namespace_code_that_cannot_be_an_identity_map_key_is_refused(sandbox, code):
    with pytest.raises(ValidationError) as excinfo:
        IdentityNamespace(sandbox=sandbox, code=code, name="Custom").full_clean()

    assert (
        "Use letters, digits and underscores, starting with a letter, e.g. ECID or Email_LC_SHA256."
        in excinfo.value.message_dict["code"]
    )


# Profile and Identity


def test_profile_attributes_must_be_a_json_object(sandbox):
    with pytest.raises(ValidationError) as excinfo:
        Profile(sandbox=sandbox, attributes=["DE"]).full_clean()

    assert excinfo.value.message_dict["attributes"] == ["Attributes must be a JSON object."]


def test_a_profile_attribute_is_read_by_dotted_path():
    profile = Profile(attributes={"homeAddress": {"countryCode": "DE"}, "tier": "gold"})

    assert profile.attribute("homeAddress.countryCode") == "DE"
    assert profile.attribute("tier.name", "none") == "none"
    assert profile.attribute("missing") is None


def test_an_identity_value_can_point_at_only_one_profile_per_namespace(sandbox):
    # given
    existing = IdentityFactory(profile__sandbox=sandbox, value="4" * 38)
    other_profile = ProfileFactory(sandbox=sandbox)
    duplicate = Identity(sandbox=sandbox, namespace=existing.namespace, value="4" * 38, profile=other_profile)
    # when
    with pytest.raises(ValidationError) as excinfo:
        duplicate.full_clean()
    # then
    assert excinfo.value.message_dict[NON_FIELD_ERRORS] == [
        "This identity already belongs to a profile in this sandbox."
    ]
    with pytest.raises(IntegrityError), transaction.atomic():
        duplicate.save()


def test_the_same_identity_value_is_fine_in_another_namespace_or_sandbox(sandbox, other_sandbox):
    existing = IdentityFactory(profile__sandbox=sandbox, value="42")
    crm = IdentityNamespaceFactory(sandbox=sandbox, code="CRMID")

    Identity.objects.create(sandbox=sandbox, namespace=crm, value="42", profile=existing.profile)
    IdentityFactory(profile__sandbox=other_sandbox, value="42")

    assert Identity.objects.filter(value="42").count() == 3


def test_a_profile_has_at_most_one_primary_identity(sandbox):
    # given
    first = IdentityFactory(profile__sandbox=sandbox, primary=True)
    email = IdentityNamespaceFactory(sandbox=sandbox, code="Email")
    second = Identity(sandbox=sandbox, namespace=email, value="ann@example.com", profile=first.profile, primary=True)
    # when
    with pytest.raises(ValidationError) as excinfo:
        second.full_clean()
    # then
    assert excinfo.value.message_dict[NON_FIELD_ERRORS] == ["A profile can have only one primary identity."]
    with pytest.raises(IntegrityError), transaction.atomic():
        second.save()


def test_a_profile_may_have_many_non_primary_identities(sandbox):
    first = IdentityFactory(profile__sandbox=sandbox, primary=True)
    email = IdentityNamespaceFactory(sandbox=sandbox, code="Email")

    for value in ("ann@example.com", "ann@work.example.com"):
        identity = Identity(sandbox=sandbox, namespace=email, value=value, profile=first.profile)
        identity.full_clean()
        identity.save()

    assert first.profile.identities.count() == 3


def test_an_identity_cannot_use_a_namespace_of_another_sandbox(sandbox, other_sandbox):
    profile = ProfileFactory(sandbox=sandbox)
    foreign = IdentityNamespaceFactory(sandbox=other_sandbox, code="ECID")

    with pytest.raises(ValidationError) as excinfo:
        Identity(sandbox=sandbox, namespace=foreign, value="1", profile=profile).full_clean()

    assert excinfo.value.message_dict["namespace"] == ["ECID belongs to another sandbox; pick one from this sandbox."]


def test_an_identity_cannot_point_at_a_profile_of_another_sandbox(sandbox, other_sandbox):
    namespace = IdentityNamespaceFactory(sandbox=sandbox, code="ECID")
    foreign = ProfileFactory(sandbox=other_sandbox)

    with pytest.raises(ValidationError) as excinfo:
        Identity(sandbox=sandbox, namespace=namespace, value="1", profile=foreign).full_clean()

    assert excinfo.value.message_dict["profile"] == [
        "%s belongs to another sandbox; pick one from this sandbox." % foreign.pk
    ]


@pytest.mark.parametrize(
    "value, message",
    [
        ("   ", "The identity is empty; fill it in."),
        ("4" * 37, "This is not a valid ECID identity: an ECID is exactly 38 digits."),
        (
            "4" * 20 + "\u200b" + "4" * 18,
            "The identity contains an invisible or control character, U+200B ZERO WIDTH SPACE at position 21; "
            "remove it (it often comes from copying a value out of a document or spreadsheet).",
        ),
    ],
)
def test_an_identity_value_that_no_website_could_send_is_refused(sandbox, value, message):
    identity = IdentityFactory.build(profile=ProfileFactory(sandbox=sandbox), value=value)

    with pytest.raises(ValidationError) as excinfo:
        identity.full_clean()

    assert excinfo.value.message_dict["value"] == [message]
