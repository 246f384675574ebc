"""The FHIR R4 basics every layer shares: the resource types and JSON with exact decimals.

Kept apart from the HTTP layer (app/fhir) so that search, validation and storage can use them
without importing the transport: data flows one way.
"""
