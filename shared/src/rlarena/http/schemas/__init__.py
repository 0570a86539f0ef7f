"""The response models: every JSON answer of every HTTP function, as the handlers build it today.

Models are declared with `defer_build`, so importing them costs next to nothing at cold start; they
are built on the first check of an answer (VALIDATE_RESPONSES) or when the document is generated.
"""
