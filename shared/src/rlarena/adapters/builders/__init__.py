"""Build backends: the local builder (embedded default) and Kaniko Jobs on Kubernetes."""
