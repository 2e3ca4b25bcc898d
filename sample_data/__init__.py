"""Churn sample data for mlcycle: see README.md; the files are written by generate.py."""
