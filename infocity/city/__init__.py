"""The city's directory: districts and the organisations that serve citizens."""
