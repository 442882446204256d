"""The dialects: one package per vendor below this one, each registered by one line here.

A dialect package holds everything about its vendor, for both roles; the shared layers find
its parts by module name through :mod:`ptpip.vendors.registry` and never name a vendor:

==============  ================================================================================
``codes``       its code tables (IntEnums) as ``TABLES`` for :mod:`ptpip.ptp.names`, and how a
                DeviceInfo names it (``MANUFACTURER``, ``EXTENSION_IDS``)
``codec``,      payload codecs and value tables (the protocol core: no I/O)
``tables``
``props``       property formats, labels and short names for :mod:`ptpip.props`
``profile``     the client profile, a :class:`ptpip.vendors.base.VendorProfile` (registered)
``camera``      the virtual camera: ``PERSONALITY``, ``DEFAULT_MODEL``, ``DEFAULT_PORT`` and
                its ``ptpip simulate`` options
``overlay``     the live-view overlay and controls for :mod:`ptpip.liveview.state`
==============  ================================================================================

A dialect has the parts it needs; without a ``profile`` its cameras speak standard PTP/IP
through the generic profile, without a ``camera`` there is no virtual one.
"""

from __future__ import annotations

from ptpip.ptp.codes import Vendor

__all__ = ["DIALECTS"]

#: One registration line per dialect. The generic dialect is the shared engine itself
#: (vendors/base.py, camera/generic.py).
DIALECTS: dict[Vendor, str] = {
    Vendor.FUJI: "ptpip.vendors.fuji",
    Vendor.CANON: "ptpip.vendors.canon",
    Vendor.LEICA: "ptpip.vendors.leica",
    Vendor.NIKON: "ptpip.vendors.nikon",
    Vendor.SONY: "ptpip.vendors.sony",
}
