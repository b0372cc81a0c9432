"""School video surveillance: school buildings, their cameras, the cameras' health probes,
outages told to each building's security staff, uptime and coverage reports."""
