"""
Reusable permission tests in NetBox's `ViewTestCases` style, for the UI and for the API.

A test class inherits the mixins it needs and declares what differs:

    class TestDatastreamViews(UIViewTestCases.ListView, UIViewTestCases.DetailView, ...):
        url_namespace = "datastreams"
        url_model = "datastream"
        view_permission = VIEW_DATASTREAMS
        change_permission = MANAGE_DATASTREAMS

        def make_object(self, sandbox): return DatastreamFactory(sandbox=sandbox)
        def form_data(self, sandbox): return {"name": "New", ...}

Every mixin checks the three sides of the rule: no permission → 403 (anonymous → login), permission
in sandbox A → 200 on A's objects, object in sandbox B → 404; writers are refused with 403 when they
can only view.
"""

import pytest

from django.urls import reverse

from tests.factories import SandboxFactory, UserFactory

__all__ = ["APIViewTestCases", "SandboxScopedCase", "UIViewTestCases"]


class SandboxScopedCase:
    """Two sandboxes with one object each, a signed-in user with no roles yet, and a `grant` helper."""

    view_permission: str = ""
    change_permission: str | None = None
    # Permissions the page needs besides the view permission (e.g. View Destinations also needs View Profiles).
    extra_permissions: tuple[str, ...] = ()

    def make_object(self, sandbox):
        raise NotImplementedError

    def model(self):
        return type(self.obj_a)

    @pytest.fixture(autouse=True)
    def _scoped_setup(self, db, client, grant):
        self.client = client
        self._grant = grant
        self.sandbox_a = SandboxFactory(name="alpha", title="Alpha")
        self.sandbox_b = SandboxFactory(name="beta", title="Beta")
        self.user = UserFactory(username="tester")
        self.obj_a = self.make_object(self.sandbox_a)
        self.obj_b = self.make_object(self.sandbox_b)
        self.client.force_login(self.user)

    def grant_view(self, sandbox=None):
        self._grant(self.user, sandbox or self.sandbox_a, self.view_permission, *self.extra_permissions)

    def grant_change(self, sandbox=None):
        codes = [self.view_permission, *self.extra_permissions]
        if self.change_permission:
            codes.append(self.change_permission)
        self._grant(self.user, sandbox or self.sandbox_a, *codes)

    def grant_unrelated(self):
        """Give the user some role in sandbox A that does not include this page's permission."""
        from accounts.constants import SANDBOX_PERMISSION_CODENAMES

        needed = {self.view_permission, self.change_permission, *self.extra_permissions}
        other = sorted(SANDBOX_PERMISSION_CODENAMES - needed)[0]
        self._grant(self.user, self.sandbox_a, other)

    def count_in(self, sandbox):
        from accounts.permissions import _sandbox_lookup

        model = self.model()
        return model.objects.filter(**{_sandbox_lookup(model): sandbox.pk}).count()


class UIViewTestCases:
    """Mixins for server-rendered pages named `<url_namespace>:<url_model>_<action>`."""

    class _Base(SandboxScopedCase):
        url_namespace = ""
        url_model = ""

        def url(self, action, obj=None):
            name = "%s:%s_%s" % (self.url_namespace, self.url_model, action)
            return reverse(name, args=[obj.pk]) if obj is not None else reverse(name)

        def display(self, obj):
            return str(obj)

        def form_data(self, sandbox):
            raise NotImplementedError

    class ListView(_Base):
        def test_list_sends_anonymous_visitors_to_login(self):
            self.client.logout()
            response = self.client.get(self.url("list"))
            assert response.status_code == 302
            assert reverse("accounts:login") in response["Location"]

        def test_list_without_permission_is_forbidden(self):
            self.grant_unrelated()
            assert self.client.get(self.url("list")).status_code == 403

        def test_list_with_permission_shows_only_the_current_sandboxs_objects(self):
            self.grant_view()
            response = self.client.get(self.url("list"))
            assert response.status_code == 200
            content = response.content.decode()
            assert self.display(self.obj_a) in content
            assert self.display(self.obj_b) not in content

    class DetailView(_Base):
        def test_detail_sends_anonymous_visitors_to_login(self):
            self.client.logout()
            assert self.client.get(self.url("detail", self.obj_a)).status_code == 302

        def test_detail_without_permission_is_forbidden(self):
            self.grant_unrelated()
            assert self.client.get(self.url("detail", self.obj_a)).status_code == 403

        def test_detail_with_permission_in_the_objects_sandbox_is_shown(self):
            self.grant_view()
            response = self.client.get(self.url("detail", self.obj_a))
            assert response.status_code == 200
            assert self.display(self.obj_a) in response.content.decode()

        def test_detail_of_an_object_in_another_sandbox_is_not_found(self):
            self.grant_view()
            assert self.client.get(self.url("detail", self.obj_b)).status_code == 404

    class CreateView(_Base):
        def test_list_offers_the_new_button_only_to_managers(self):
            self.grant_view()
            assert self.url("create") not in self.client.get(self.url("list")).content.decode()
            self.grant_change()
            assert self.url("create") in self.client.get(self.url("list")).content.decode()

        def test_create_page_is_forbidden_to_viewers(self):
            self.grant_view()
            assert self.client.get(self.url("create")).status_code == 403

        def test_viewer_posting_a_new_object_is_forbidden_and_nothing_is_saved(self):
            self.grant_view()
            before = self.count_in(self.sandbox_a)
            assert self.client.post(self.url("create"), self.form_data(self.sandbox_a)).status_code == 403
            assert self.count_in(self.sandbox_a) == before

        def test_manager_creates_an_object_in_the_current_sandbox(self):
            self.grant_change()
            assert self.client.get(self.url("create")).status_code == 200
            before = self.count_in(self.sandbox_a)
            response = self.client.post(self.url("create"), self.form_data(self.sandbox_a))
            assert response.status_code == 302, response.context["form"].errors if response.context else response
            assert self.count_in(self.sandbox_a) == before + 1

    class EditView(_Base):
        def test_detail_offers_the_edit_button_only_to_managers(self):
            self.grant_view()
            edit_url = self.url("edit", self.obj_a)
            assert edit_url not in self.client.get(self.url("detail", self.obj_a)).content.decode()
            self.grant_change()
            assert edit_url in self.client.get(self.url("detail", self.obj_a)).content.decode()

        def test_manager_of_another_sandbox_only_is_forbidden(self):
            self.grant_change(self.sandbox_b)
            self.grant_view(self.sandbox_a)
            assert self.client.get(self.url("edit", self.obj_a)).status_code == 403

        def test_manager_saves_an_edit(self):
            self.grant_change()
            response = self.client.post(self.url("edit", self.obj_a), self.form_data(self.sandbox_a))
            assert response.status_code == 302, response.context["form"].errors if response.context else response

        def test_edit_is_forbidden_to_viewers(self):
            self.grant_view()
            assert self.client.get(self.url("edit", self.obj_a)).status_code == 403
            assert self.client.post(self.url("edit", self.obj_a), self.form_data(self.sandbox_a)).status_code == 403

        def test_manager_can_open_the_edit_page(self):
            self.grant_change()
            assert self.client.get(self.url("edit", self.obj_a)).status_code == 200

        def test_editing_an_object_in_another_sandbox_is_not_found(self):
            self.grant_change()
            assert self.client.get(self.url("edit", self.obj_b)).status_code == 404

    class DeleteView(_Base):
        def test_detail_offers_the_delete_button_only_to_managers(self):
            self.grant_view()
            delete_url = self.url("delete", self.obj_a)
            assert delete_url not in self.client.get(self.url("detail", self.obj_a)).content.decode()
            self.grant_change()
            assert delete_url in self.client.get(self.url("detail", self.obj_a)).content.decode()

        def test_viewer_cannot_delete(self):
            self.grant_view()
            assert self.client.post(self.url("delete", self.obj_a)).status_code == 403
            assert self.model().objects.filter(pk=self.obj_a.pk).exists()

        def test_manager_deletes_after_confirmation(self):
            self.grant_change()
            assert self.client.get(self.url("delete", self.obj_a)).status_code == 200
            assert self.client.post(self.url("delete", self.obj_a)).status_code == 302
            assert not self.model().objects.filter(pk=self.obj_a.pk).exists()

        def test_deleting_an_object_in_another_sandbox_is_not_found(self):
            self.grant_change()
            assert self.client.post(self.url("delete", self.obj_b)).status_code == 404
            assert self.model().objects.filter(pk=self.obj_b.pk).exists()


class APIViewTestCases:
    """
    Mixins for REST endpoints routed as `api:<basename>-list` / `api:<basename>-detail`.

    `create_data(sandbox)` is a valid new object of `sandbox` (it may reference that sandbox's objects),
    `update_data(sandbox)` a valid partial change of `obj_a` or `obj_b`.
    """

    class _Base(SandboxScopedCase):
        basename = ""

        def list_url(self):
            return reverse("api:%s-list" % self.basename)

        def detail_url(self, obj):
            return reverse("api:%s-detail" % self.basename, args=[obj.pk])

        def create_data(self, sandbox):
            raise NotImplementedError

        def update_data(self, sandbox):
            raise NotImplementedError

        def post_json(self, url, data):
            return self.client.post(url, data, content_type="application/json")

        def patch_json(self, url, data):
            return self.client.patch(url, data, content_type="application/json")

    class ListView(_Base):
        def test_list_refuses_anonymous_callers_with_401(self):
            self.client.logout()
            assert self.client.get(self.list_url()).status_code == 401

        def test_list_without_permission_is_forbidden(self):
            self.grant_unrelated()
            assert self.client.get(self.list_url()).status_code == 403

        def test_list_returns_only_objects_of_permitted_sandboxes(self):
            self.grant_view()
            response = self.client.get(self.list_url())
            assert response.status_code == 200
            ids = {str(item["id"]) for item in response.json()["results"]}
            assert str(self.obj_a.pk) in ids
            assert str(self.obj_b.pk) not in ids

    class RetrieveView(_Base):
        def test_retrieve_refuses_anonymous_callers_with_401(self):
            self.client.logout()
            assert self.client.get(self.detail_url(self.obj_a)).status_code == 401

        def test_retrieve_without_permission_is_forbidden(self):
            self.grant_unrelated()
            assert self.client.get(self.detail_url(self.obj_a)).status_code == 403

        def test_retrieve_in_permitted_sandbox(self):
            self.grant_view()
            response = self.client.get(self.detail_url(self.obj_a))
            assert response.status_code == 200
            assert str(response.json()["id"]) == str(self.obj_a.pk)

        def test_retrieve_in_other_sandbox_is_not_found(self):
            self.grant_view()
            assert self.client.get(self.detail_url(self.obj_b)).status_code == 404

    class CreateView(_Base):
        def test_anonymous_callers_cannot_create(self):
            self.client.logout()
            before = self.count_in(self.sandbox_a)
            assert self.post_json(self.list_url(), self.create_data(self.sandbox_a)).status_code == 401
            assert self.count_in(self.sandbox_a) == before

        def test_viewer_cannot_create(self):
            self.grant_view()
            before = self.count_in(self.sandbox_a)
            response = self.post_json(self.list_url(), self.create_data(self.sandbox_a))
            assert response.status_code == 403
            assert self.count_in(self.sandbox_a) == before

        def test_manager_creates(self):
            self.grant_change()
            before = self.count_in(self.sandbox_a)
            response = self.post_json(self.list_url(), self.create_data(self.sandbox_a))
            assert response.status_code == 201, response.content
            assert self.count_in(self.sandbox_a) == before + 1
            assert self.model().objects.filter(pk=response.json()["id"]).exists()

        def test_manager_of_one_sandbox_who_only_views_another_is_forbidden_to_create_there(self):
            self.grant_change(self.sandbox_a)
            self.grant_view(self.sandbox_b)
            before = self.count_in(self.sandbox_b)
            response = self.post_json(self.list_url(), self.create_data(self.sandbox_b))
            assert response.status_code == 403, response.content
            assert self.count_in(self.sandbox_b) == before

        def test_creating_in_a_sandbox_the_user_cannot_see_is_refused_as_if_it_did_not_exist(self):
            self.grant_change(self.sandbox_a)
            before = self.count_in(self.sandbox_b)
            response = self.post_json(self.list_url(), self.create_data(self.sandbox_b))
            assert response.status_code == 400, response.content
            assert "does not exist" in response.content.decode()
            assert self.count_in(self.sandbox_b) == before

    class UpdateView(_Base):
        def test_anonymous_callers_cannot_update(self):
            self.client.logout()
            assert self.patch_json(self.detail_url(self.obj_a), self.update_data(self.sandbox_a)).status_code == 401

        def test_viewer_cannot_update(self):
            self.grant_view()
            response = self.patch_json(self.detail_url(self.obj_a), self.update_data(self.sandbox_a))
            assert response.status_code == 403

        def test_manager_updates(self):
            self.grant_change()
            data = self.update_data(self.sandbox_a)
            response = self.patch_json(self.detail_url(self.obj_a), data)
            assert response.status_code == 200, response.content
            body = response.json()
            for field, value in data.items():
                assert str(body[field]) == str(value), field

        def test_manager_of_another_sandbox_only_cannot_update(self):
            self.grant_change(self.sandbox_b)
            self.grant_view(self.sandbox_a)
            response = self.patch_json(self.detail_url(self.obj_a), self.update_data(self.sandbox_a))
            assert response.status_code == 403

        def test_update_in_other_sandbox_is_not_found(self):
            self.grant_change()
            response = self.patch_json(self.detail_url(self.obj_b), self.update_data(self.sandbox_b))
            assert response.status_code == 404

    class DeleteView(_Base):
        def test_anonymous_callers_cannot_delete(self):
            self.client.logout()
            assert self.client.delete(self.detail_url(self.obj_a)).status_code == 401
            assert self.model().objects.filter(pk=self.obj_a.pk).exists()

        def test_viewer_cannot_delete(self):
            self.grant_view()
            assert self.client.delete(self.detail_url(self.obj_a)).status_code == 403
            assert self.model().objects.filter(pk=self.obj_a.pk).exists()

        def test_manager_deletes(self):
            self.grant_change()
            assert self.client.delete(self.detail_url(self.obj_a)).status_code == 204
            assert not self.model().objects.filter(pk=self.obj_a.pk).exists()

        def test_delete_in_other_sandbox_is_not_found(self):
            self.grant_change()
            assert self.client.delete(self.detail_url(self.obj_b)).status_code == 404
            assert self.model().objects.filter(pk=self.obj_b.pk).exists()
