"""Citizens and staff: accounts, profiles with documents, families, roles, API tokens
and device keys."""
