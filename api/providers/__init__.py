"""Cloud providers: the only package that imports a cloud SDK (boto, azure, google-auth)."""
