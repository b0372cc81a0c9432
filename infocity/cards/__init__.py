"""School cards ("pass and meals"): the pupil's card at the turnstile and the canteen till,
the balance it pays from, and the parents told of entries, exits and meals."""
