"""The web kit every service's routes share: who is asking, CSRF, errors, limits, middleware.

The application that mounts the routes is ``infocity.app``, above this package."""
