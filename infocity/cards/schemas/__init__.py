"""What the use cases of cards take and give, one module per sub-domain."""
