//! ZIP validation and inventory, DICOM detection and header-only DICOM scans
