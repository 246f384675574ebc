"""Per-centre ingest: transports (HTTP, MLLP, files, polling) -> source records -> the
declarative mapping -> validation -> the store, with every input logged and nothing lost."""
