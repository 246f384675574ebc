"""SMART on FHIR security: token checks, scopes, the patient compartment, the embedded
authorization server and the audit trail."""
