"""
The typed records the lookup's modules hand each other, so each one's shape is declared once.

- `DatastreamConfig` (with `DestinationConfig` and `ActivationWindow`): one datastream's configuration as the
  store shares it between processes. `projection.load_config` builds it; `lookup` sets `pgen` (the sandbox's
  profile generation it was built under) and `store.put_config` sets `version` (the digest of its content)
  before it is stored; nothing else adds keys, and per-process memos live outside it (`projection.serving_plan`,
  `segmentation.served_edge_rules`). A TypedDict, not a dataclass: it is stored as JSON and read back on every
  config change, and the projection reads it as plain dicts.
- `Answer`: what `projection.build_projection` computes for one identity under one config.
- `TokenInfo`: what a live bearer token grants (the store keeps it as JSON under `tok:`).
- `LookupResult`: what `lookup.interact` returns to the view.
"""

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, NotRequired, TypedDict

if TYPE_CHECKING:
    from personalization.edge.lookup import Visitor

__all__ = ["ActivationWindow", "Answer", "DatastreamConfig", "DestinationConfig", "LookupResult", "TokenInfo"]


# When an activated audience serves (`projection.activation_window`): epochs, None for unbounded. The functional
# form, because `from` is a keyword.
ActivationWindow = TypedDict(
    "ActivationWindow",
    {"audience": str, "from": float | None, "until": float | None, "published": bool, "expires": float | None},
)


class DestinationConfig(TypedDict):
    id: str
    alias: str
    attributes: bool  # the "with attributes" kind: mapped attributes for authenticated callers
    activations: list[ActivationWindow]
    mappings: list[list[str]]  # [target name, source field path], sorted


class DatastreamConfig(TypedDict):
    id: str
    sandbox: int
    enabled: bool
    authenticated_only: bool
    edge_segmentation: bool
    origins: list[str]
    namespaces: list[str]
    destinations: list[DestinationConfig]
    # With edge segmentation (`segmentation.load_edge_rules`): [[audience id, rule], ...] and {path: type}.
    edge_rules: NotRequired[list[list]]
    edge_fields: NotRequired[dict[str, str]]
    pgen: NotRequired[str]
    version: NotRequired[str]


@dataclass(frozen=True, slots=True)
class Answer:
    """
    One identity's answer on one datastream: `full` (authenticated callers) and `anon` (without any `attributes`
    key) as pieces whose concatenation is the payload JSON (`projection.render_payload`), the profile it is
    about (None for an identity nobody has), and `until`, the next moment a schedule or expiry could change it.
    """

    until: float
    profile: str | None
    full: tuple[str, ...]
    anon: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """A live bearer token: the credential's client id and sandbox, and when the token stops (epoch seconds)."""

    client_id: str
    sandbox: int
    expires: float

    def to_json(self) -> str:
        return json.dumps({"client_id": self.client_id, "sandbox": self.sandbox, "expires": self.expires})

    @classmethod
    def from_json(cls, raw: str) -> "TokenInfo":
        data = json.loads(raw)
        return cls(client_id=data["client_id"], sandbox=data["sandbox"], expires=data["expires"])


@dataclass(frozen=True, slots=True)
class LookupResult:
    """One answered lookup: the `activation:pull` payload JSON for this caller, who it was about, the CORS origins."""

    payload: str
    visitor: "Visitor"
    origins: list[str]
    identities: tuple[tuple[str, str], ...] | None = None  # `(namespace, id)` for `identity:result`, if asked
    warnings: tuple[dict, ...] = ()
