"""Running untrusted commands (users' agent code) in child processes with layered limits.

The platform never imports or executes an agent inside its own process: it starts a child through
`rlarena.sandbox.process.run_sandboxed`, which scrubs the environment, sets resource limits, cuts
the network where the kernel allows, drops root to an unprivileged user and kills the whole
process group when the wall clock runs out.
"""
