"""Terminology: the regional CodeSystems, ValueSets and ConceptMaps, and the operations on them.

Validation (bindings) and mapping (code translation) both go through ``TerminologyService``
(service.py); the local implementation answers from the content under ``terminology/``, the
remote one asks an external FHIR terminology server.
"""
