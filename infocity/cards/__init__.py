"""Cards: pupils' school cards ("pass and meals": the turnstile, the canteen till, the
balance they pay from, parents told of entries, exits and meals) and students' social
cards (checked by transit validators)."""
