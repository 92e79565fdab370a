"""Adapters at the edge: the event mapper and the database URL handling."""
