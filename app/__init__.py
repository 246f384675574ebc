"""mitral-fhir: a FHIR R4 facade for the regional mitral valve network."""

__version__ = "0.1.0"
