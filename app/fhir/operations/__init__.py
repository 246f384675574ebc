"""FHIR operations ($name URLs): reading their inputs, running them, rendering Parameters."""
