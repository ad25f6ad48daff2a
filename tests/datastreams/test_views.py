import pytest

from django.urls import reverse

from accounts.constants import MANAGE_DATASTREAMS, VIEW_DATASTREAMS, VIEW_DESTINATIONS
from accounts.permissions import CAN_VIEW_DATASTREAMS
from personalization.datastreams.models import Datastream
from tests.factories import DatastreamFactory, DestinationFactory
from tests.utils.permissions import UIViewTestCases


def datastream_form(**overrides):
    data = {
        "name": "Web",
        "description": "",
        "access_type": Datastream.AccessType.MIXED,
        "platform_enabled": "on",
        "personalization_destinations": "on",
        "allowed_origins": "https://www.example.com\n\n  https://shop.example.com  \n",
        "enabled": "on",
    }
    data.update(overrides)
    return data


class TestDatastreamViews(
    UIViewTestCases.ListView,
    UIViewTestCases.DetailView,
    UIViewTestCases.CreateView,
    UIViewTestCases.EditView,
    UIViewTestCases.DeleteView,
):
    url_namespace = "datastreams"
    url_model = "datastream"
    view_permission = VIEW_DATASTREAMS
    change_permission = MANAGE_DATASTREAMS

    def make_object(self, sandbox):
        return DatastreamFactory(sandbox=sandbox, name="Stream of %s" % sandbox.name)

    def form_data(self, sandbox):
        return datastream_form(name="Fresh stream")

    def test_created_datastream_keeps_one_origin_per_line(self):
        # given
        self.grant_change()
        # when
        self.client.post(self.url("create"), datastream_form(name="Origins"))
        # then
        created = Datastream.objects.get(name="Origins")
        assert created.sandbox == self.sandbox_a
        assert created.allowed_origins == ["https://www.example.com", "https://shop.example.com"]

    def test_a_duplicate_name_in_the_sandbox_is_reported_on_the_name_field(self):
        self.grant_change()
        response = self.client.post(self.url("create"), datastream_form(name=self.obj_a.name))
        assert response.status_code == 200
        assert "already exists in this sandbox" in str(response.context["form"].errors["name"])
        assert 'aria-invalid="true"' in response.content.decode()

    def test_the_same_name_in_another_sandbox_is_fine(self):
        self.grant_change()
        response = self.client.post(self.url("create"), datastream_form(name=self.obj_b.name))
        assert response.status_code == 302

    def test_a_bad_origin_is_reported_on_the_origins_field_by_name(self):
        self.grant_change()
        response = self.client.post(
            self.url("create"), datastream_form(allowed_origins="https://ok.example.com\nwww.example.com/path")
        )
        assert response.status_code == 200
        assert "www.example.com/path is not an origin" in str(response.context["form"].errors["allowed_origins"])
        assert not Datastream.objects.filter(name="Web").exists()

    def test_the_edit_form_shows_origins_one_per_line(self):
        self.obj_a.allowed_origins = ["https://a.example.com", "https://b.example.com"]
        self.obj_a.save()
        self.grant_change()
        response = self.client.get(self.url("edit", self.obj_a))
        assert "https://a.example.com\nhttps://b.example.com" in response.content.decode()

    def test_a_refused_edit_keeps_the_saved_name_in_the_heading(self):
        other = DatastreamFactory(sandbox=self.sandbox_a, name="Taken")
        self.grant_change()
        response = self.client.post(self.url("edit", self.obj_a), datastream_form(name=other.name))
        assert response.status_code == 200
        assert "name" in response.context["form"].errors
        self.obj_a.refresh_from_db()
        assert self.obj_a.name == "Stream of alpha"
        assert response.context["object"].name == "Stream of alpha"

    def test_deleting_a_datastream_used_by_a_destination_is_refused_naming_it(self):
        # given
        DestinationFactory(datastream=self.obj_a, name="Homepage hero")
        self.grant_change()
        # when
        confirm = self.client.get(self.url("delete", self.obj_a))
        response = self.client.post(self.url("delete", self.obj_a))
        # then
        assert "Homepage hero" in confirm.content.decode()
        assert response.status_code == 200
        assert "Homepage hero" in " ".join(response.context["refusal"])
        assert 'role="alert"' in response.content.decode()
        assert Datastream.objects.filter(pk=self.obj_a.pk).exists()

    def test_detail_lists_the_destinations_on_the_datastream(self):
        DestinationFactory(datastream=self.obj_a, name="Checkout banner")
        self.grant_view()
        self._grant(self.user, self.sandbox_a, VIEW_DESTINATIONS)  # destinations are their own domain
        assert "Checkout banner" in self.client.get(self.url("detail", self.obj_a)).content.decode()

    def test_list_filters_by_search_and_flags(self):
        DatastreamFactory(sandbox=self.sandbox_a, name="Mobile app", personalization_destinations=False)
        self.grant_view()
        content = self.client.get(self.url("list"), {"q": "mobile"}).content.decode()
        assert "Mobile app" in content
        assert self.obj_a.name not in content
        content = self.client.get(self.url("list"), {"personalization_destinations": "false"}).content.decode()
        assert "Mobile app" in content
        assert self.obj_a.name not in content


@pytest.mark.django_db
def test_the_datastream_list_follows_the_sandbox_switcher(client, user, sandbox, other_sandbox, grant):
    # given
    DatastreamFactory(sandbox=sandbox, name="Alpha web")
    DatastreamFactory(sandbox=other_sandbox, name="Beta web")
    grant(user, [sandbox, other_sandbox], VIEW_DATASTREAMS)
    client.force_login(user)
    url = reverse("datastreams:datastream_list")
    first = client.get(url).content.decode()
    # when
    switched = client.post(reverse("accounts:switch_sandbox"), {"sandbox": other_sandbox.pk, "next": url})
    second = client.get(url).content.decode()
    # then
    assert "Alpha web" in first and "Beta web" not in first
    assert switched.status_code == 302 and switched["Location"] == url
    assert "Beta web" in second and "Alpha web" not in second


@pytest.mark.django_db
def test_viewers_see_no_write_buttons(client, user, sandbox, grant):
    datastream = DatastreamFactory(sandbox=sandbox)
    grant(user, sandbox, VIEW_DATASTREAMS)
    client.force_login(user)
    pages = client.get(reverse("datastreams:datastream_list")).content.decode()
    pages += client.get(datastream.get_absolute_url()).content.decode()
    assert "/new/" not in pages and "/edit/" not in pages and "/delete/" not in pages


@pytest.mark.django_db
def test_all_form_errors_show_at_once(user_client, user, sandbox, grant):
    DatastreamFactory(sandbox=sandbox, name="Taken")
    grant(user, sandbox, VIEW_DATASTREAMS, MANAGE_DATASTREAMS)
    response = user_client.post(
        reverse("datastreams:datastream_create"), datastream_form(name="Taken", allowed_origins="ftp://x.example.com")
    )
    errors = response.context["form"].errors
    assert set(errors) == {"name", "allowed_origins"}


@pytest.mark.django_db
def test_a_unique_constraint_refusal_from_the_service_lands_on_its_field(user, sandbox):
    from django.core.exceptions import ValidationError

    from personalization.datastreams.forms import DatastreamForm
    from personalization.generic_views import add_service_errors

    form = DatastreamForm(datastream_form(), user=user, sandbox=sandbox, rule=CAN_VIEW_DATASTREAMS)
    form.is_valid()
    add_service_errors(form, ValidationError("A datastream with this name already exists in this sandbox."))
    add_service_errors(form, ValidationError({"sandbox": "Something about the sandbox."}))
    assert form.errors["name"] == ["A datastream with this name already exists in this sandbox."]
    assert form.non_field_errors() == ["Something about the sandbox."]
