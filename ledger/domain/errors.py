"""Errors the domain raises when a command would break a rule."""


class DomainError(Exception):
    """A command was rejected by a business rule; nothing was recorded."""


class RuleViolation(DomainError):
    """The command is not allowed in the aggregate's current state."""


class Unchanged(RuleViolation):
    """The command would record nothing new (loading the same file again): not a failure,
    so loads can be re-run safely."""
