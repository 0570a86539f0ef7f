"""The web app: server-rendered pages over the public REST API (plain functions building escaped HTML)."""
