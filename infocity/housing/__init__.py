"""Housing and utilities: apartments, meters, readings, bills, service requests."""
