"""Education: kindergartens, first grade and state exam results."""
