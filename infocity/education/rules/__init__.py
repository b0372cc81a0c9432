"""Pure rules of education, one module per sub-domain: no database, no web."""
