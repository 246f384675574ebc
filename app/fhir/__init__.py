"""The FHIR REST layer: interactions, bundles, CapabilityStatement. HTTP only, no SQL."""
