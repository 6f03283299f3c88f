"""The OpenRosa blueprint, apart from the package so that route modules can import it."""

from flask import Blueprint

bp = Blueprint("openrosa", __name__)
