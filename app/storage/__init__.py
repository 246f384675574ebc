"""Versioned resource storage: the only package that writes SQL for resources."""
