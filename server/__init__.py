"""Glimpse web service: JSON API and server-rendered pages."""
