"""What education's use cases take and give, one module per sub-domain."""
