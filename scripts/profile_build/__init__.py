"""Helpers of scripts/build_profiles.py: the snapshot generator for the regional profiles."""
