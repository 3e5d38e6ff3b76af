//! The XLSX report: parser (calamine) and writer (rust_xlsxwriter)
