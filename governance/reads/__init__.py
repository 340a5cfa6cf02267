"""Read services: the queries every front end (the API, the console, the CLI) shares, so views
only parse and format. Writes live in governance/operations."""
