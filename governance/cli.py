import click
governance_cli = click.Group("governance")
