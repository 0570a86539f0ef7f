"""Object storage: one `ObjectStore` protocol, a local folder adapter and an S3 (MinIO) adapter.

Import the concrete adapters from their modules (or use `factory.object_store_for`); this package
imports nothing so that loading it never pulls in the S3 SDK.
"""
