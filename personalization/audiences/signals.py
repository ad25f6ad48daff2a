"""
Signals through which audiences reach the apps above them (destinations) without importing them.

Each is sent inside the sender's transaction; a receiver's `ValidationError` propagates, so the write is refused
as a whole.
"""

from django.dispatch import Signal

__all__ = ["rule_changed"]

# audience: an audience whose rule was just saved (the new rule in place); destinations re-check the data usage
# policies of every activation it reaches and refuse the change that would violate one.
rule_changed = Signal()
