"""
Drive a django-formtools wizard through the test client the way a browser tab does.

    wizard = open_wizard(client, url)                 # GET: a new tab with its own storage key
    _wizard_post(wizard, "connection", {"name": ...})  # POST one step; keys get the step prefix
    _wizard_post(wizard, "alerts", wizard_goto_step="connection")  # Back (the current step is stored first)
"""

from dataclasses import dataclass

__all__ = ["Wizard", "_wizard_post", "open_wizard"]


@dataclass
class Wizard:
    client: object
    url: str
    prefix: str
    prefix_field: str
    response: object = None

    @property
    def step(self) -> str:
        return self.response.context["wizard"]["steps"].current

    @property
    def steps(self) -> list[str]:
        return list(self.response.context["wizard"]["steps"].all)

    @property
    def form(self):
        return self.response.context["form"]

    @property
    def content(self) -> str:
        return self.response.content.decode()


def open_wizard(client, url) -> Wizard:
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    prefix_form = response.context["wizard_prefix_form"]
    return Wizard(client, url, prefix_form["prefix"].value(), prefix_form["prefix"].html_name, response)


def _wizard_post(wizard: Wizard, step: str, data: dict | None = None, **buttons):
    """Post `data` as the fields of `step` (plus buttons such as `wizard_goto_step`) and keep the response."""
    payload = {"%s-%s" % (step, key): value for key, value in (data or {}).items()}
    payload["%s-current_step" % wizard.prefix] = step
    payload[wizard.prefix_field] = wizard.prefix
    payload.update(buttons)
    wizard.response = wizard.client.post(wizard.url, payload)
    return wizard.response
