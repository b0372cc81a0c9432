"""What the cards' use cases take and give, one module per sub-domain."""
