"""
Signals through which governance reaches the apps above it (destinations) without importing them.

Sent inside the sender's transaction; a receiver's `ValidationError` propagates, so the write is refused whole.
"""

from django.dispatch import Signal

__all__ = ["labels_changing", "policy_enabling", "policy_impact_asked"]

# policy: a policy about to be enabled (saved, still in the transaction); destinations refuse it, explained,
# when a current activation would break it.
policy_enabling = Signal()

# sandbox_id, paths: labels were just added to the profile fields at `paths`; destinations refuse it, explained,
# when an activation that uses one of those fields now breaks an enabled policy.
labels_changing = Signal()

# policy: which current activations would this policy block if it were enabled? Receivers return a list of
# (destination, PolicyCheck); `selectors.policy_impact` gathers them.
policy_impact_asked = Signal()
