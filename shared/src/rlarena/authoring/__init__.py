"""The agent author's kit: the `rlarena` commands an author runs (play, validate, new, compare,
and login/submit/status/... against a running platform). Each command is one module here with
`configure(parser)` (argparse only, cheap to import) and `run(arguments) -> exit code` (imports
what it needs when it runs)."""
