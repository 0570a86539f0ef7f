"""Running matches: agents as sandboxed processes, an environment between them, a replay out.

`rlarena.executor.runner.run_match` is the core; the gRPC service around it lives elsewhere.
"""
