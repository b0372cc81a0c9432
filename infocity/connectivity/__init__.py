"""Public Wi-Fi of the city: hotspots, people identified by phone, RADIUS, statistics."""
