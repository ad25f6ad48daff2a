"""A change that would make an activation break an enabled data usage policy is refused, explained, and undone."""

import pytest

from django.core.exceptions import ValidationError

from personalization.audiences.models import Audience
from personalization.audiences.services import audience_update
from personalization.destinations.models import AttributeMapping, Destination
from personalization.destinations.services import attribute_mapping_create, destination_update
from personalization.governance.models import Policy
from tests.factories import (
    ActivationFactory,
    AudienceFactory,
    DatastreamFactory,
    DestinationFactory,
    LabelFactory,
    MappingFactory,
    MarketingActionFactory,
    PolicyFactory,
    ProfileFieldFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


class Policed:
    """Onsite Personalization is denied on data labelled I1 AND C6; email carries I1, country C6."""

    def __init__(self, sandbox):
        self.admin = UserFactory(username="admin", is_superuser=True)
        self.onsite = MarketingActionFactory(sandbox=sandbox, key="onsite-personalization")
        self.email = ProfileFieldFactory(sandbox=sandbox, path="personalEmail.address")
        self.country = ProfileFieldFactory(sandbox=sandbox, path="homeAddress.countryCode")
        self.tier = ProfileFieldFactory(sandbox=sandbox, path="loyalty.tier")
        LabelFactory(sandbox=sandbox, code="I1").fields.add(self.email)
        LabelFactory(sandbox=sandbox, code="C6").fields.add(self.country)
        self.policy = PolicyFactory(
            marketing_action=self.onsite,
            name="No onsite use of identifiable location",
            deny={"operator": "AND", "operands": [{"label": "I1"}, {"label": "C6"}]},
            status=Policy.Status.ENABLED,
        )
        self.destination = DestinationFactory(
            datastream=DatastreamFactory(sandbox=sandbox), kind=Destination.Kind.WITH_ATTRIBUTES, name="Hero"
        )
        self.destination.marketing_actions.add(self.onsite)
        self.members = AudienceFactory(
            sandbox=sandbox, name="Members", rule={"field": "loyalty.tier", "op": "equals", "value": "gold"}
        )
        ActivationFactory(destination=self.destination, audience=self.members)
        MappingFactory(destination=self.destination, source=self.email, target="email")


@pytest.fixture
def policed(sandbox):
    return Policed(sandbox)


def test_a_mapping_that_brings_the_missing_label_in_is_refused_with_the_whole_explanation(policed):
    with pytest.raises(ValidationError) as refused:
        attribute_mapping_create(
            user=policed.admin, destination=policed.destination, source=policed.country, target="c"
        )

    [message] = refused.value.messages
    assert "The policy No onsite use of identifiable location forbids this" in message
    assert "labels C6, I1 on homeAddress.countryCode, personalEmail.address reach Hero" in message
    assert "Onsite Personalization" in message
    assert not AttributeMapping.objects.filter(target="c").exists()


def test_a_rule_edited_to_use_a_labelled_field_is_refused_and_the_rule_stays(policed):
    new_rule = {"field": "homeAddress.countryCode", "op": "equals", "value": "DE"}

    with pytest.raises(ValidationError) as refused:
        audience_update(user=policed.admin, audience=policed.members, rule=new_rule)

    assert "through the audience Members" in refused.value.messages[0]
    assert Audience.objects.get(pk=policed.members.pk).rule["field"] == "loyalty.tier"


def test_a_rule_edit_reaching_the_destination_through_an_including_audience_is_refused(policed, sandbox):
    located = AudienceFactory(sandbox=sandbox, name="Located", rule={"field": "loyalty.tier", "op": "exists"})
    policed.members.rule = {"in_audience": str(located.pk)}
    policed.members.save()

    with pytest.raises(ValidationError):
        audience_update(user=policed.admin, audience=located, rule={"field": "homeAddress.countryCode", "op": "exists"})


def test_a_marketing_action_added_to_a_destination_whose_data_it_forbids_is_refused(policed, sandbox):
    plain = DestinationFactory(
        datastream=DatastreamFactory(sandbox=sandbox), kind=Destination.Kind.WITH_ATTRIBUTES, name="Plain"
    )
    MappingFactory(destination=plain, source=policed.email, target="email")
    MappingFactory(destination=plain, source=policed.country, target="country")

    with pytest.raises(ValidationError):
        destination_update(user=policed.admin, destination=plain, marketing_actions=[policed.onsite])

    assert not plain.marketing_actions.exists()


def test_a_change_that_breaks_no_policy_goes_through(policed):
    mapping = attribute_mapping_create(
        user=policed.admin, destination=policed.destination, source=policed.tier, target="tier"
    )

    assert mapping.pk is not None
