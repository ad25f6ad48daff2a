"""API credentials in the UI and the API: secret shown once, stored hashed, sandbox-scoped, revocable."""

import pytest

from django.urls import reverse

from accounts import constants as perms
from accounts.models import ApiCredential
from accounts.services import api_credential_create
from tests.factories import UserFactory
from tests.utils.permissions import APIViewTestCases, UIViewTestCases

pytestmark = pytest.mark.django_db


def make_credential(sandbox, name="Ad server"):
    owner = UserFactory(username="owner-%s" % sandbox.name, is_superuser=True)
    credential, _secret = api_credential_create(user=owner, sandbox=sandbox, name=name)
    return credential


class TestCredentialPages(UIViewTestCases.ListView):
    url_namespace = "accounts"
    url_model = "apicredential"
    view_permission = perms.VIEW_DATASTREAMS
    change_permission = perms.MANAGE_DATASTREAMS

    def make_object(self, sandbox):
        return make_credential(sandbox, name="Server of %s" % sandbox.name)

    def display(self, obj):
        return obj.client_id

    def test_viewers_cannot_open_the_create_page(self):
        self.grant_view()
        assert self.client.get(reverse("accounts:apicredential_create")).status_code == 403

    def test_a_manager_sees_the_secret_exactly_once_and_it_is_not_stored(self):
        self.grant_change()

        response = self.client.post(reverse("accounts:apicredential_create"), {"name": "CMS backend"})

        assert response.status_code == 200
        credential = ApiCredential.objects.get(name="CMS backend", sandbox=self.sandbox_a)
        secret = response.context["secret"]
        assert secret in response.content.decode()
        assert response["Cache-Control"] == "no-store"
        assert credential.matches(secret)
        assert secret not in credential.secret_digest
        listing = self.client.get(reverse("accounts:apicredential_list")).content.decode()
        assert credential.client_id in listing and secret not in listing

    def test_an_expiry_in_the_past_is_refused_next_to_the_field(self):
        self.grant_change()

        response = self.client.post(
            reverse("accounts:apicredential_create"), {"name": "Old", "expires_at": "2001-01-01T00:00"}
        )

        assert response.context["form"].errors["expires_at"] == ["Pick a moment in the future."]
        assert not ApiCredential.objects.filter(name="Old").exists()

    def test_a_manager_revokes_a_credential(self):
        self.grant_change()
        url = reverse("accounts:apicredential_revoke", args=[self.obj_a.pk])

        assert self.client.get(url).status_code == 200
        assert self.client.post(url).status_code == 302

        self.obj_a.refresh_from_db()
        assert self.obj_a.revoked_at is not None

    def test_viewers_cannot_revoke(self):
        self.grant_view()
        assert self.client.post(reverse("accounts:apicredential_revoke", args=[self.obj_a.pk])).status_code == 403

    def test_a_credential_of_another_sandbox_is_not_found(self):
        self.grant_change()
        assert self.client.post(reverse("accounts:apicredential_revoke", args=[self.obj_b.pk])).status_code == 404


class TestCredentialApi(APIViewTestCases.ListView, APIViewTestCases.RetrieveView, APIViewTestCases.CreateView):
    basename = "credential"
    view_permission = perms.VIEW_DATASTREAMS
    change_permission = perms.MANAGE_DATASTREAMS

    def make_object(self, sandbox):
        return make_credential(sandbox, name="Server of %s" % sandbox.name)

    def create_data(self, sandbox):
        return {"sandbox": sandbox.name, "name": "New server"}

    def test_creating_returns_the_secret_once_and_reading_never_does(self):
        self.grant_change()

        created = self.client.post(self.list_url(), self.create_data(self.sandbox_a), content_type="application/json")

        assert created.status_code == 201
        body = created.json()
        assert body["client_secret"].startswith("cpcs_")
        assert ApiCredential.objects.get(pk=body["id"]).matches(body["client_secret"])
        again = self.client.get(self.detail_url(ApiCredential.objects.get(pk=body["id"]))).json()
        assert "client_secret" not in again

    def test_delete_revokes_and_keeps_the_credential_listed(self):
        self.grant_change()

        assert self.client.delete(self.detail_url(self.obj_a)).status_code == 204

        self.obj_a.refresh_from_db()
        assert self.obj_a.revoked_at is not None
        listed = {item["id"]: item for item in self.client.get(self.list_url()).json()["results"]}
        assert listed[self.obj_a.pk]["active"] is False

    def test_viewers_cannot_revoke(self):
        self.grant_view()
        assert self.client.delete(self.detail_url(self.obj_a)).status_code == 403

    def test_revoking_in_another_sandbox_is_not_found(self):
        self.grant_change()
        assert self.client.delete(self.detail_url(self.obj_b)).status_code == 404
