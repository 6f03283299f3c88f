"""Spatial work for Doorstep, independent of Flask: demo data, visit matching, coverage, import."""
