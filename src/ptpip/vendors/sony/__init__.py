"""Sony Alpha over PTP/IP: codes and tables (the dialect itself comes with its issue)."""
