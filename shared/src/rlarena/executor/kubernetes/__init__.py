"""Matches on Kubernetes (USE_K8S=true): one Job per match, its Pod holding both agents and the runner.

`jobs.py` builds the Job (kubernetes client models, no API calls), `backend.py` runs it and reads
the result back, `result_log.py` is how the runner container hands the result over (its log),
and `images.py` says which agent images may run. Only `jobs.py` and `backend.py` import the
kubernetes client (about 0.3 s), and only the executor loads them, when USE_K8S=true.
"""
