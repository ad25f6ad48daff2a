"""Audience rules: names per sandbox, what each origin allows, and memberships that stay consistent."""

import datetime

import pytest

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from personalization.audiences.models import Audience, AudienceMembership
from tests.factories import AudienceFactory, MembershipFactory, ProfileFactory, ProfileFieldFactory

pytestmark = pytest.mark.django_db

RULE = {"all": [{"field": "loyalty.tier", "op": "equals", "value": "gold"}]}


def test_two_audiences_in_one_sandbox_cannot_share_a_name(sandbox):
    AudienceFactory(sandbox=sandbox, name="Gold members")

    with pytest.raises(ValidationError) as excinfo:
        Audience(sandbox=sandbox, name="Gold members").full_clean()
    assert excinfo.value.message_dict[NON_FIELD_ERRORS] == [
        "An audience with this name already exists in this sandbox."
    ]

    with pytest.raises(IntegrityError), transaction.atomic():
        Audience.objects.create(sandbox=sandbox, name="Gold members")


def test_the_same_audience_name_is_fine_in_another_sandbox(sandbox, other_sandbox):
    AudienceFactory(sandbox=sandbox, name="Gold members")

    Audience(sandbox=other_sandbox, name="Gold members").full_clean()


def test_a_segmentation_audience_with_a_rule_is_valid(sandbox):
    ProfileFieldFactory(sandbox=sandbox, path="loyalty.tier")
    Audience(sandbox=sandbox, name="Gold", origin=Audience.Origin.SEGMENTATION, rule=RULE).full_clean()


def test_a_segmentation_audience_cannot_expire(sandbox):
    audience = Audience(
        sandbox=sandbox,
        name="Gold",
        origin=Audience.Origin.SEGMENTATION,
        rule=RULE,
        expires_at=timezone.now() + datetime.timedelta(days=30),
    )

    with pytest.raises(ValidationError) as excinfo:
        audience.full_clean()

    assert excinfo.value.message_dict["expires_at"] == [
        "Only custom upload audiences expire; segmentation audiences follow their rule."
    ]


def test_a_custom_upload_audience_may_expire(sandbox):
    Audience(
        sandbox=sandbox,
        name="Imported",
        origin=Audience.Origin.CUSTOM_UPLOAD,
        expires_at=timezone.now() + datetime.timedelta(days=30),
    ).full_clean()


def test_a_custom_upload_audience_cannot_have_a_rule(sandbox):
    with pytest.raises(ValidationError) as excinfo:
        Audience(sandbox=sandbox, name="Imported", origin=Audience.Origin.CUSTOM_UPLOAD, rule=RULE).full_clean()

    assert excinfo.value.message_dict["rule"] == [
        "Custom upload audiences take their members from a file, not from a rule."
    ]


@pytest.mark.parametrize("rule", [["all"], "loyalty.tier = gold", 3])
def test_a_rule_must_be_a_condition_tree_object(sandbox, rule):
    with pytest.raises(ValidationError) as excinfo:
        Audience(sandbox=sandbox, name="Gold", origin=Audience.Origin.SEGMENTATION, rule=rule).full_clean()

    assert excinfo.value.message_dict["rule"] == ["The rule must be a JSON object (a condition tree)."]


def test_an_unknown_status_is_refused(sandbox):
    with pytest.raises(ValidationError) as excinfo:
        Audience(sandbox=sandbox, name="Gold", status="archived").full_clean()

    assert excinfo.value.message_dict["status"] == ["Value 'archived' is not a valid choice."]


def test_an_audience_is_expired_once_its_expiry_has_passed():
    now = timezone.now()

    assert Audience(expires_at=now - datetime.timedelta(seconds=1)).is_expired
    assert not Audience(expires_at=now + datetime.timedelta(days=1)).is_expired
    assert not Audience(expires_at=None).is_expired


# Memberships


def test_a_profile_has_at_most_one_membership_per_audience(sandbox):
    # given
    existing = MembershipFactory(audience__sandbox=sandbox)
    duplicate = AudienceMembership(audience=existing.audience, profile=existing.profile)
    # when
    with pytest.raises(ValidationError) as excinfo:
        duplicate.full_clean()
    # then
    assert excinfo.value.message_dict[NON_FIELD_ERRORS] == ["This profile already has a membership in this audience."]
    with pytest.raises(IntegrityError), transaction.atomic():
        duplicate.save()


def test_an_exited_membership_needs_an_exit_time(sandbox):
    membership = MembershipFactory.build(
        audience=AudienceFactory(sandbox=sandbox), status=AudienceMembership.Status.EXITED, exited_at=None
    )

    with pytest.raises(ValidationError) as excinfo:
        membership.full_clean()
    assert excinfo.value.message_dict[NON_FIELD_ERRORS] == [
        "Exited memberships need an exit time, and only they have one."
    ]

    with pytest.raises(IntegrityError), transaction.atomic():
        membership.save()


@pytest.mark.parametrize("status", [AudienceMembership.Status.REALIZED, AudienceMembership.Status.EXISTING])
def test_a_membership_that_has_not_exited_has_no_exit_time(sandbox, status):
    membership = MembershipFactory.build(
        audience=AudienceFactory(sandbox=sandbox), status=status, exited_at=timezone.now()
    )

    with pytest.raises(ValidationError) as excinfo:
        membership.full_clean()
    assert excinfo.value.message_dict[NON_FIELD_ERRORS] == [
        "Exited memberships need an exit time, and only they have one."
    ]

    with pytest.raises(IntegrityError), transaction.atomic():
        membership.save()


def test_an_exited_membership_with_an_exit_time_is_valid(sandbox):
    membership = MembershipFactory.build(
        audience=AudienceFactory(sandbox=sandbox), status=AudienceMembership.Status.EXITED, exited_at=timezone.now()
    )

    membership.full_clean()
    membership.save()


def test_a_membership_cannot_join_a_profile_of_another_sandbox(sandbox, other_sandbox):
    membership = AudienceMembership(
        audience=AudienceFactory(sandbox=sandbox), profile=ProfileFactory(sandbox=other_sandbox)
    )

    with pytest.raises(ValidationError) as excinfo:
        membership.full_clean()

    assert excinfo.value.message_dict["profile"] == ["The profile belongs to another sandbox than the audience."]
