"""Errors the matching library raises on purpose.

``matching`` cannot import the pipeline's error classes (dependencies point one way), so it has
its own; the match stage turns them into the pipeline's errors. Every message names what to fix.
"""

from __future__ import annotations


class MatchingError(Exception):
    """Base class for problems the matching library reports to its caller."""


class MatchingInputError(MatchingError):
    """The records, the pairs or a saved model do not have the shape matching needs."""


class ConflictingDecisionsError(MatchingError):
    """Steward decisions contradict each other: must-links join a pair that a cannot-link
    separates. No clustering can honour both, so a steward has to revoke one of them."""
