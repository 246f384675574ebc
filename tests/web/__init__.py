"""Tests of the human-readable pages (app/web)."""
