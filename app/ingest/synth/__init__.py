"""Simulated centre feeds for tests, demos and benchmarks: a cohort of patients whose
pathways cross the network, written in each centre's own format (``docs/centres.md``)."""

from app.ingest.synth.generate import SynthSummary, generate

__all__ = ["SynthSummary", "generate"]
