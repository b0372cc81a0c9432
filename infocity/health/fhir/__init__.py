"""HL7 FHIR R4 for scheduling: a protocol adapter beside health's use cases (``resources``
maps what they return to FHIR, ``search`` parses FHIR search parameters, ``bundles``
wraps results and refusals, ``routes`` serves them under /fhir/R4)."""
