"""XLSForm handling for Doorstep, independent of Flask (usable from scripts and notebooks)."""

from forms.convert import ConvertedForm, convert_xlsform, ensure_version, new_version, xform_md5
from forms.errors import CATALOGUE, FormError

__all__ = [
    "CATALOGUE",
    "ConvertedForm",
    "FormError",
    "convert_xlsform",
    "ensure_version",
    "new_version",
    "xform_md5",
]
