from infocity.cli import app

app()
