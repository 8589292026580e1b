"""Maintenance tools of the sandbox (run by hand, never at test or serve time): the api-version table generator."""
