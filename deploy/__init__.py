"""Deployment: the images and how they are built and checked (deploy/images.py)."""
