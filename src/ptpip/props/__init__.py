"""Human names and text forms of device property values, both ways, per vendor."""

from ptpip.props.registry import (
    describe_values,
    format_value,
    is_known_enum,
    parse_value,
    prop_label,
    resolve_property,
    unified_names,
)

__all__ = [
    "describe_values",
    "format_value",
    "is_known_enum",
    "parse_value",
    "prop_label",
    "resolve_property",
    "unified_names",
]
