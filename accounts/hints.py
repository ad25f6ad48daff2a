"""Why a button is not there: what a rule still needs in a sandbox, and who there can grant it."""

from dataclasses import dataclass

from django.utils.translation import gettext as _

from accounts import constants as codes
from accounts.models import Role, Sandbox
from accounts.permissions import RULES, Rule, permission_map

_LABELS = dict(codes.SANDBOX_PERMISSIONS)
# A hint names a few people, not a directory.
_MAX_GRANTERS = 3


@dataclass(frozen=True)
class MissingPermission:
    rule: Rule
    sandbox_title: str
    missing: tuple[str, ...]  # labels of the rule's all-of permissions the user lacks
    one_of: tuple[str, ...]  # labels of its any-of alternatives, when the user holds none of them
    granters: tuple[str, ...]  # who manages roles in the sandbox

    @property
    def needs(self) -> str:
        parts = [" + ".join(self.missing)] if self.missing else []
        if self.one_of:
            parts.append(_("one of %(options)s") % {"options": _(" or ").join(self.one_of)})
        return _(" and ").join(parts)

    @property
    def ask(self) -> str:
        if self.granters:
            return _("Ask %(people)s (Manage Roles in this sandbox) to add it to one of your roles.") % {
                "people": _(", ").join(self.granters)
            }
        return _("Nobody holds Manage Roles in this sandbox yet: ask your administrator to add it to a role of yours.")

    @property
    def reason(self) -> str:
        return _("“%(rule)s” needs %(needs)s in the sandbox %(sandbox)s, which your roles do not give you.") % {
            "rule": self.rule,
            "needs": self.needs,
            "sandbox": self.sandbox_title,
        }

    def __str__(self):
        return "%s %s" % (self.reason, self.ask)


def _granters(sandbox) -> tuple[str, ...]:
    names = set()
    for role in Role.objects.filter(sandboxes=sandbox).prefetch_related("users"):
        if codes.MANAGE_ROLES not in role.permissions:
            continue
        names.update(user.get_full_name() or user.get_username() for user in role.users.all() if user.is_active)
    return tuple(sorted(names)[:_MAX_GRANTERS])


def missing_permission(user, rule: Rule, sandbox, *, granters=_granters) -> MissingPermission | None:
    """Return what `user` lacks for `rule` on `sandbox` (or its id) and who may grant it; None if nothing is missing."""
    if sandbox is None or rule.allows(user, sandbox):
        return None
    if not isinstance(sandbox, Sandbox):
        sandbox = Sandbox.objects.get(pk=sandbox)
    held = permission_map(user).get(sandbox.pk, frozenset())
    missing = tuple(str(_LABELS[code]) for code in rule.all_of if code not in held)
    one_of = () if set(rule.any_of) & set(held) else tuple(str(_LABELS[code]) for code in rule.any_of)
    return MissingPermission(rule, str(sandbox), missing, one_of, granters(sandbox))


class MissingHere:
    """
    `{{ missing.CAN_ACTIVATE }}`: what the user lacks for a named rule in the current sandbox, or None. One per
    request: each rule is worked out once, and who may grant is looked up once for all of them.
    """

    def __init__(self, user, sandbox):
        self.user = user
        self.sandbox = sandbox
        self._found: dict[str, MissingPermission | None] = {}
        self._granters: tuple[str, ...] | None = None

    def __getitem__(self, name: str) -> MissingPermission | None:
        if name not in self._found:
            self._found[name] = missing_permission(self.user, RULES[name], self.sandbox, granters=self._granters_once)
        return self._found[name]

    def _granters_once(self, sandbox) -> tuple[str, ...]:
        if self._granters is None:
            self._granters = _granters(sandbox)
        return self._granters
