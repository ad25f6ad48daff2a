"""factory_boy factories; every sandboxed object takes its sandbox from its parent so graphs never span sandboxes."""

import datetime

import factory
from factory.django import DjangoModelFactory

from django.contrib.auth import get_user_model
from django.utils import timezone

from accounts.models import Sandbox
from personalization.audiences.models import Audience, AudienceMembership
from personalization.datastreams.models import Datastream
from personalization.destinations.models import AttributeMapping, AudienceActivation, Destination
from personalization.edge.models import DataflowRun
from personalization.governance.models import Label, MarketingAction, Policy
from personalization.profiles.models import Identity, IdentityNamespace, Profile, ProfileField


class SandboxFactory(DjangoModelFactory):
    class Meta:
        model = Sandbox
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: "sandbox%d" % n)
    title = factory.LazyAttribute(lambda o: o.name.title())
    kind = Sandbox.Kind.DEVELOPMENT


class UserFactory(DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: "user%d" % n)
    email = factory.LazyAttribute(lambda o: "%s@example.com" % o.username)
    password = factory.PostGenerationMethodCall("set_password", "correct-horse-battery")

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class DatastreamFactory(DjangoModelFactory):
    class Meta:
        model = Datastream

    sandbox = factory.SubFactory(SandboxFactory)
    name = factory.Sequence(lambda n: "Datastream %d" % n)
    platform_enabled = True
    personalization_destinations = True


class ProfileFieldFactory(DjangoModelFactory):
    class Meta:
        model = ProfileField

    sandbox = factory.SubFactory(SandboxFactory)
    path = factory.Sequence(lambda n: "custom.field%d" % n)
    field_type = ProfileField.FieldType.STRING


class IdentityNamespaceFactory(DjangoModelFactory):
    class Meta:
        model = IdentityNamespace
        django_get_or_create = ("sandbox", "code")

    sandbox = factory.SubFactory(SandboxFactory)
    code = "ECID"
    name = factory.LazyAttribute(lambda o: o.code)


class ProfileFactory(DjangoModelFactory):
    class Meta:
        model = Profile

    sandbox = factory.SubFactory(SandboxFactory)
    attributes = factory.LazyFunction(dict)


class IdentityFactory(DjangoModelFactory):
    class Meta:
        model = Identity

    profile = factory.SubFactory(ProfileFactory)
    sandbox = factory.LazyAttribute(lambda o: o.profile.sandbox)
    namespace = factory.LazyAttribute(lambda o: IdentityNamespaceFactory(sandbox=o.profile.sandbox, code="ECID"))
    value = factory.Sequence(lambda n: "%038d" % (10**36 + n))


class AudienceFactory(DjangoModelFactory):
    class Meta:
        model = Audience

    sandbox = factory.SubFactory(SandboxFactory)
    name = factory.Sequence(lambda n: "Audience %d" % n)
    status = Audience.Status.PUBLISHED
    origin = Audience.Origin.SEGMENTATION


class MembershipFactory(DjangoModelFactory):
    class Meta:
        model = AudienceMembership

    audience = factory.SubFactory(AudienceFactory)
    profile = factory.LazyAttribute(lambda o: ProfileFactory(sandbox=o.audience.sandbox))
    status = AudienceMembership.Status.REALIZED


class DestinationFactory(DjangoModelFactory):
    class Meta:
        model = Destination

    datastream = factory.SubFactory(DatastreamFactory)
    sandbox = factory.LazyAttribute(lambda o: o.datastream.sandbox)
    kind = Destination.Kind.CUSTOM_PERSONALIZATION
    name = factory.Sequence(lambda n: "Destination %d" % n)
    alias = factory.Sequence(lambda n: "alias%d" % n)


class ActivationFactory(DjangoModelFactory):
    class Meta:
        model = AudienceActivation

    destination = factory.SubFactory(DestinationFactory)
    audience = factory.LazyAttribute(lambda o: AudienceFactory(sandbox=o.destination.sandbox))


class MappingFactory(DjangoModelFactory):
    class Meta:
        model = AttributeMapping

    destination = factory.SubFactory(DestinationFactory, kind=Destination.Kind.WITH_ATTRIBUTES)
    source = factory.LazyAttribute(lambda o: ProfileFieldFactory(sandbox=o.destination.sandbox))
    target = factory.Sequence(lambda n: "target%d" % n)


class LabelFactory(DjangoModelFactory):
    class Meta:
        model = Label
        # Every sandbox has the core labels (C1–C12, I1, I2, S1, S2): asking for one returns it.
        django_get_or_create = ("sandbox", "code")

    sandbox = factory.SubFactory(SandboxFactory)
    code = factory.Sequence(lambda n: "X%d" % n)
    name = factory.LazyAttribute(lambda o: "Label %s" % o.code)


class MarketingActionFactory(DjangoModelFactory):
    class Meta:
        model = MarketingAction
        # Every sandbox has the core marketing actions: asking for one by its key returns it.
        django_get_or_create = ("sandbox", "key")

    sandbox = factory.SubFactory(SandboxFactory)
    key = factory.Sequence(lambda n: "action-%d" % n)
    name = factory.LazyAttribute(lambda o: o.key.replace("-", " ").title())


class PolicyFactory(DjangoModelFactory):
    class Meta:
        model = Policy

    marketing_action = factory.SubFactory(MarketingActionFactory)
    sandbox = factory.LazyAttribute(lambda o: o.marketing_action.sandbox)
    name = factory.Sequence(lambda n: "Policy %d" % n)
    deny = factory.LazyFunction(lambda: {"label": "C2"})


class DataflowRunFactory(DjangoModelFactory):
    class Meta:
        model = DataflowRun

    destination = factory.SubFactory(DestinationFactory)
    started_at = factory.LazyFunction(lambda: timezone.now() - datetime.timedelta(minutes=5))


class AlertSubscriptionFactory(DjangoModelFactory):
    class Meta:
        model = "alerts.AlertSubscription"

    user = factory.SubFactory(UserFactory)
    destination = factory.SubFactory(DestinationFactory)
    alert_type = "activation_skipped_rate"


class AlertEventFactory(DjangoModelFactory):
    class Meta:
        model = "alerts.AlertEvent"

    run = factory.SubFactory(DataflowRunFactory)
    destination = factory.LazyAttribute(lambda o: o.run.destination)
    alert_type = "activation_skipped_rate"
    message = "2.0% of profiles were skipped, above the 1.0% threshold."
    observed_value = 2.0
    threshold = 1.0


class NotificationFactory(DjangoModelFactory):
    class Meta:
        model = "alerts.Notification"

    user = factory.SubFactory(UserFactory)
    event = factory.SubFactory(AlertEventFactory)


class WebhookEndpointFactory(DjangoModelFactory):
    class Meta:
        model = "alerts.WebhookEndpoint"

    sandbox = factory.SubFactory(SandboxFactory)
    name = factory.Sequence(lambda n: "Webhook %d" % n)
    url = factory.Sequence(lambda n: "https://hooks.example.com/%d" % n)
    alert_types = factory.LazyFunction(lambda: ["activation_skipped_rate"])
    secret_salt = factory.Sequence(lambda n: "%032x" % n)


class WebhookDeliveryFactory(DjangoModelFactory):
    class Meta:
        model = "alerts.WebhookDelivery"

    endpoint = factory.SubFactory(WebhookEndpointFactory)
    event = factory.LazyAttribute(lambda o: AlertEventFactory(run__destination__datastream__sandbox=o.endpoint.sandbox))
    attempt = 1
