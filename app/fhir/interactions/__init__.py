"""One module per FHIR interaction; app.fhir.router wires them to URLs."""
