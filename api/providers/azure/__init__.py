"""Azure: Entra ID tokens through azure-identity (aio), ARM over httpx."""
