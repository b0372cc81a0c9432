"""Pure rules of education: no database, no web."""
