"""A typed client for the platform's REST API, generated from its OpenAPI document.

`generated.ArenaApi` has one method per operation (`python -m rlarena.api_client.generate` writes
it from rlarena/api_docs/openapi.json); `transport` sends the requests with the standard library.
"""
