"""Cards: pupils' school cards (pass and meals) and students' social cards."""
