"""
Audience evaluation: batch (a whole sandbox, `batch`) and one profile at a time (streaming and edge, `profile`).

The public functions of both are importable from here.
"""

from personalization.audiences.evaluation.batch import *  # noqa: F403
from personalization.audiences.evaluation.batch import __all__ as _batch
from personalization.audiences.evaluation.profile import *  # noqa: F403
from personalization.audiences.evaluation.profile import __all__ as _profile

__all__ = sorted([*_batch, *_profile])
