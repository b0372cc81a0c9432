"""Shapes of education data crossing the service boundary, one module per sub-domain."""
