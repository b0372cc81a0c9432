"""What the use cases of school cards take and give, one module per sub-domain."""
