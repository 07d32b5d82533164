"""Repo-level configuration for the project's own test suite.

pytester is enabled in pyproject's addopts; nothing else belongs here.
"""
