"""
The management API against its own OpenAPI document, fuzzed by schemathesis as the demo admin with a personal token.

Every operation gets SCHEMATHESIS_EXAMPLES generated requests (default 25): half of them inside the schema and
aimed at real demo objects, half outside it. Each answer must be no server error, carry a status and a
content type the document lists for the operation, and match the documented body. Operations run reads first
and deletes last, so that the writes of one do not empty the demo data the next one reads.
A longer run: `SCHEMATHESIS_EXAMPLES=500 make test PYTEST_ARGS="tests/test_api_schemathesis.py -s"`.
"""

import os
from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from django.contrib.auth import get_user_model
from django.core.wsgi import get_wsgi_application

from accounts.services import personal_token_create
from personalization.audiences.models import Audience
from personalization.datastreams.models import Datastream
from personalization.demo.seeding import seed
from personalization.destinations.models import AttributeMapping, AudienceActivation, Destination
from personalization.profiles.models import Identity, IdentityNamespace, Profile, ProfileField

EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "25"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# The token the run authenticates with would revoke itself.
SKIPPED = {("DELETE", "/api/v1/tokens/{id}/")}
_METHOD_ORDER = {"GET": 0, "OPTIONS": 0, "POST": 1, "PUT": 2, "PATCH": 2, "DELETE": 3}


def _real_ids() -> dict[str, dict]:
    """Path parameters naming real demo objects in Production, by the operation path's collection."""
    prod = {"sandbox__name": "prod"}
    identity = Identity.objects.filter(namespace__code="ECID", **prod).select_related("namespace").first()
    objects = {
        "datastreams": Datastream.objects.filter(**prod).first(),
        "profile-fields": ProfileField.objects.filter(**prod).first(),
        "identity-namespaces": IdentityNamespace.objects.filter(**prod).first(),
        "profiles": Profile.objects.filter(**prod).first(),
        "audiences": Audience.objects.filter(**prod).first(),
        "destinations": Destination.objects.filter(**prod).first(),
        "activations": AudienceActivation.objects.filter(destination__sandbox__name="prod").first(),
        "attribute-mappings": AttributeMapping.objects.filter(destination__sandbox__name="prod").first(),
    }
    ids = {name: {"id": str(obj.pk)} for name, obj in objects.items() if obj is not None}
    ids["profiles/{namespace}/{identity}"] = {"namespace": "ECID", "identity": identity.value}
    return ids


def _path_parameters(path: str, real: dict) -> dict | None:
    collection = path.removeprefix("/api/v1/").split("/")[0]
    if "{namespace}" in path:
        return real["profiles/{namespace}/{identity}"]
    return real.get(collection) if "{id}" in path else None


def _run_cases(strategy, examples: int, *, label: str, headers: dict, tally) -> None:
    """Send `examples` requests drawn from `strategy`, counting them and recording every failed check."""
    cases, statuses, failures = tally

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def run(case):
        response = case.call(headers=headers)
        cases[label] += 1
        statuses[response.status_code // 100] += 1
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
        except (AssertionError, FailureGroup) as failure:
            failures.append("%s → %s: %s" % (label, response.status_code, str(failure)[:500]))

    run()


@pytest.mark.django_db(transaction=True)
def test_the_management_api_answers_every_generated_request_as_its_schema_says(capsys):
    seed(profiles=40)
    admin = get_user_model().objects.get(username="admin")
    _token, plaintext = personal_token_create(user=admin, name="schemathesis")
    headers = {"Authorization": "Token %s" % plaintext}
    schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", get_wsgi_application(), headers=headers)
    real = _real_ids()

    operations = [result.ok() for result in schema.get_all_operations()]
    operations.sort(key=lambda operation: (_METHOD_ORDER.get(operation.method.upper(), 1), operation.path))
    cases, statuses, failures = Counter(), Counter(), []

    for operation in operations:
        label = "%s %s" % (operation.method.upper(), operation.path)
        if (operation.method.upper(), operation.path) in SKIPPED:
            continue
        aimed = _path_parameters(operation.path, real)
        strategies = [
            (operation.as_strategy(GenerationMode.POSITIVE, path_parameters=aimed), EXAMPLES - EXAMPLES // 2),
            (operation.as_strategy(GenerationMode.NEGATIVE), max(1, EXAMPLES // 2)),
        ]
        for strategy, examples in strategies:
            _run_cases(strategy, examples, label=label, headers=headers, tally=(cases, statuses, failures))

    with capsys.disabled():
        print(
            "\nschemathesis: %d operations, %d cases (%s), %d failures"
            % (
                len(cases),
                sum(cases.values()),
                ", ".join("%dxx: %d" % (group, count) for group, count in sorted(statuses.items())),
                len(failures),
            )
        )
    assert len(cases) == len(operations) - len(SKIPPED)
    assert statuses[5] == 0, failures
    assert failures == [], "\n\n".join(failures)
