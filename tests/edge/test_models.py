"""Dataflow run rules: a run cannot finish before it started."""

import datetime

import pytest

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from tests.factories import DataflowRunFactory, DestinationFactory

pytestmark = pytest.mark.django_db


def test_a_run_cannot_finish_before_it_started(sandbox):
    # given
    started = timezone.now()
    run = DataflowRunFactory.build(
        destination=DestinationFactory(datastream__sandbox=sandbox),
        started_at=started,
        finished_at=started - datetime.timedelta(seconds=1),
    )
    # when
    with pytest.raises(ValidationError) as excinfo:
        run.full_clean()
    # then
    assert excinfo.value.message_dict[NON_FIELD_ERRORS] == ["A run cannot finish before it started."]
    with pytest.raises(IntegrityError), transaction.atomic():
        run.save()


@pytest.mark.parametrize("duration", [datetime.timedelta(0), datetime.timedelta(minutes=3), None])
def test_a_running_run_or_one_finishing_at_or_after_its_start_is_valid(sandbox, duration):
    started = timezone.now()
    run = DataflowRunFactory.build(
        destination=DestinationFactory(datastream__sandbox=sandbox),
        started_at=started,
        finished_at=None if duration is None else started + duration,
    )

    run.full_clean()
    run.save()
