"""Canon EOS: GetEvent records, SetDevicePropValueEx, viewfinder blocks and value tables."""
