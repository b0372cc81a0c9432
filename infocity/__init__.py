"""InfoCity: a city's electronic public services in one Python package."""

__version__ = "0.1.0"
