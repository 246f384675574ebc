"""FHIR search: the SearchParameter registry, index extraction and query building."""
