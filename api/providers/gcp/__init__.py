"""GCP: google-auth credentials (refreshed in a thread), Google REST APIs over httpx."""
